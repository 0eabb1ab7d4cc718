import Foundation
import Logging
import PostgresNIO
import RampartCore

/// A stored audit event as `rampart audit tail | export` prints it.
public struct AuditRecord: Sendable, Equatable {
    public let eventID: Int64
    public let at: Date
    public let tenant: String
    public let event: JSONValue
}

public struct AuditVerification: Sendable, Equatable {
    public let verified: Int64
    public let pending: Int64
    public let head: String
    public let problems: [String]
}

/// Writes audit events and reads the chain. Writing happens inside the caller's transaction, so
/// an allowed call's event commits or rolls back with its effect.
public enum AuditStore {
    /// Inserts `events` of one tenant in the current transaction, whose `rampart.tenant_id` must
    /// be that tenant (the RLS policy checks it).
    public static func insert(_ events: [AuditEvent], on connection: PostgresConnection, logger: Logger) async throws {
        guard let tenant = events.first?.tenant else { return }
        let rows = JSONValue.array(
            events.map { $0.storable() }.map { event in
                let optional: (String?) -> JSONValue = { $0.map(JSONValue.string) ?? .null }
                return [
                    "request_id": .string(event.requestID), "subject": optional(event.subject),
                    "conversation": optional(event.conversation), "method": optional(event.method),
                    "tool": optional(event.tool), "resource": optional(event.resource),
                    "decision": .string(event.decision.rawValue), "layer": .string(event.layer.rawValue),
                    "reason": .string(event.reason), "cost": .int(event.cost), "details": .object(event.details),
                ]
            }
        )
        try await connection.execute(
            """
            INSERT INTO rampart.audit_events
                (tenant_id, request_id, subject, conversation, method, tool, resource, decision, layer, reason, cost, details)
            SELECT \(tenant), r.request_id, r.subject, r.conversation, r.method, r.tool, r.resource, r.decision, r.layer,
                   r.reason, r.cost, r.details
            FROM jsonb_to_recordset(\(rows.jsonText)::jsonb) AS r(
                request_id text, subject text, conversation text, method text, tool text, resource text,
                decision text, layer text, reason text, cost bigint, details jsonb)
            """,
            logger: logger
        )
    }

    /// Writes events of any tenants in one transaction, each group under its own tenant.
    public static func insertBatch(_ events: [AuditEvent], on connection: PostgresConnection, logger: Logger)
        async throws
    {
        let groups = Dictionary(grouping: events.map { $0.storable() }, by: \.tenant)
        try await connection.withTransaction(logger: logger) { connection in
            for tenant in groups.keys.sorted() {
                try await connection.execute("SELECT set_config('rampart.tenant_id', \(tenant), true)", logger: logger)
                try await insert(groups[tenant] ?? [], on: connection, logger: logger)
            }
        }
    }

    /// Seals up to `max` committed events into the chain; 0 when another sealer is at work.
    public static func seal(max: Int, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        for sealed in try await connection.fetch("SELECT rampart.seal_audit(\(max)::integer)", logger: logger)
            .decode(Int.self)
        {
            return sealed
        }
        return 0
    }

    public static func verify(on connection: PostgresConnection, logger: Logger) async throws -> AuditVerification {
        let rows = try await connection.fetch(
            "SELECT verified, pending, head, problems FROM rampart.verify_audit()",
            logger: logger
        )
        for (verified, pending, head, problems) in try rows.decode((Int64, Int64, String, [String]).self) {
            return AuditVerification(verified: verified, pending: pending, head: head, problems: problems)
        }
        throw RampartError.internal(detail: "verify_audit returned no row")
    }

    /// Events oldest first; with `newest`, the last `limit` of them.
    public static func events(
        tenant: String?,
        since: Date?,
        after: Int64,
        limit: Int,
        newest: Bool = false,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [AuditRecord] {
        let rows = try await connection.fetch(
            """
            SELECT event_id, at, tenant_id, jsonb_build_object(
                'event_id', event_id, 'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'request_id', request_id, 'tenant', tenant_id, 'subject', subject, 'conversation', conversation,
                'method', method, 'tool', tool, 'resource', resource, 'decision', decision, 'layer', layer,
                'reason', reason, 'cost', cost, 'actor_role', actor_role, 'details', details)::text
            FROM rampart.audit_events(\(tenant)::text, \(since)::timestamptz, \(after)::bigint, \(limit)::integer, \(newest)::boolean)
            """,
            logger: logger
        )
        var records: [AuditRecord] = []
        for (id, at, tenant, text) in try rows.decode((Int64, Date, String, String).self) {
            records.append(
                AuditRecord(eventID: id, at: at, tenant: tenant, event: try JSONParser.parse(text, maxDepth: 64))
            )
        }
        return records
    }
}

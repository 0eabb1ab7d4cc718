import Foundation
import Logging
import PostgresNIO
import RampartCore

/// Opening, resuming and ending conversations (sql/010): each one statement, bound to the
/// principal that opened the conversation — another principal's id, even one of the same
/// tenant, answers exactly like an unknown one.
public struct ConversationStore: Sendable {
    public let database: Database
    let statements: PreparedStatements
    let logger: Logger
    let committed: CommittedEvents

    public init(calls: CallStore) {
        database = calls.database
        statements = calls.statements
        logger = calls.logger
        committed = calls.committed
    }

    public struct Opening: Sendable {
        public let identity: CallIdentity
        public let kind: ConversationKey.Kind
        /// The new conversation's random id.
        public let id: String
        /// The conversation it is opened from (narrowing that one's scope), if any.
        public let parent: ConversationKey?
        /// The patterns asked for; nil: the scope it starts from.
        public let scope: [String]?
        public let purpose: String?
        public let protocolVersion: String?
        /// Whether it passes the tenant and user rate cells, as every tool call does.
        public let rateLimited: Bool

        public init(
            identity: CallIdentity,
            kind: ConversationKey.Kind,
            id: String,
            parent: ConversationKey?,
            scope: [String]?,
            purpose: String?,
            protocolVersion: String?,
            rateLimited: Bool
        ) {
            self.identity = identity
            self.kind = kind
            self.id = id
            self.parent = parent
            self.scope = scope
            self.purpose = purpose
            self.protocolVersion = protocolVersion
            self.rateLimited = rateLimited
        }
    }

    /// How an opening ended: `ok` (detail: conversation, scope, expires_at), `widening` (detail:
    /// pattern), `rate_limited` (limit, retry_after_ms) or `conversation_not_found` (the parent).
    public func open(_ opening: Opening, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> (outcome: String, detail: JSONValue)
    {
        var arguments: [String: JSONValue] = [
            "kind": .string(opening.kind.rawValue), "id": .string(opening.id), "rate": .bool(opening.rateLimited),
        ]
        if let parent = opening.parent {
            arguments["parent"] = ["kind": .string(parent.kind.rawValue), "id": .string(parent.id)]
        }
        if let scope = opening.scope { arguments["scope"] = .array(scope.map(JSONValue.string)) }
        if let purpose = opening.purpose { arguments["purpose"] = .string(purpose) }
        if let version = opening.protocolVersion { arguments["protocol_version"] = .string(version) }
        let call = opening.identity.json(arguments)
        let rows = try await run(
            "SELECT outcome, detail::text FROM rampart.open_conversation($1::text, $2::text::jsonb, $3::text::jsonb)",
            tenant: tenant,
            call: call,
            until: deadline
        )
        guard let (outcome, detail) = try rows.first?.decode((String, String).self) else {
            throw RampartError.internal(detail: "open_conversation returned no row")
        }
        return (outcome, try audited(detail, call: call, tenant: tenant))
    }

    /// Whether the identity's session is live (its idle timer restarted); a refusal is audited.
    public func resume(_ identity: CallIdentity, tenant: TenantID, until deadline: ContinuousClock.Instant)
        async throws -> Bool
    {
        try await flag(
            "SELECT rampart.resume_session($1::text, $2::text::jsonb, $3::text::jsonb)::text",
            identity,
            tenant,
            deadline
        )
    }

    /// Ends the identity's session; false (audited) when there was none to end.
    public func end(_ identity: CallIdentity, tenant: TenantID, until deadline: ContinuousClock.Instant)
        async throws -> Bool
    {
        try await flag(
            "SELECT rampart.end_session($1::text, $2::text::jsonb, $3::text::jsonb)::text",
            identity,
            tenant,
            deadline
        )
    }

    /// Deletes conversations that ended more than `grace` ago (an implicit one once its token has
    /// expired too): how many.
    public func sweep(grace: Duration, until deadline: ContinuousClock.Instant) async throws -> Int {
        let seconds = String(grace.components.seconds)
        let (statements, logger) = (statements, logger)
        let rows = try await database.withConnection(until: deadline) { connection in
            try await statements.run(
                "SELECT rampart.sweep_conversations($1::text::integer)::text",
                binds: [seconds],
                on: connection,
                logger: logger
            )
        }
        return try rows.first.flatMap { Int(try $0.decode(String.self)) } ?? 0
    }

    /// Deletes rate-limit cells whose arrival time has passed (they decide as missing cells do),
    /// at most `max`: how many.
    public func sweepRateCells(max: Int, until deadline: ContinuousClock.Instant) async throws -> Int {
        let (statements, logger) = (statements, logger)
        let rows = try await database.withConnection(until: deadline) { connection in
            try await statements.run(
                "SELECT rampart.sweep_rate_cells($1::text::integer)::text",
                binds: [String(max)],
                on: connection,
                logger: logger
            )
        }
        return try rows.first.flatMap { Int(try $0.decode(String.self)) } ?? 0
    }

    private func flag(
        _ sql: String,
        _ identity: CallIdentity,
        _ tenant: TenantID,
        _ deadline: ContinuousClock.Instant
    ) async throws -> Bool {
        let call = identity.json([:])
        let answer = try await run(sql, tenant: tenant, call: call, until: deadline).first?.decode(String.self)
        return try audited(answer ?? "{}", call: call, tenant: tenant)["ok"]?.boolValue == true
    }

    /// A function's detail without the event it audited, which goes to `committed`.
    private func audited(_ detail: String, call: JSONValue, tenant: TenantID) throws -> JSONValue {
        let (shown, event) = try JSONParser.parse(detail).splittingAudit(call: call, tenant: tenant)
        if let event { committed([event]) }
        return shown
    }

    private func run(
        _ sql: String,
        tenant: TenantID,
        call: JSONValue,
        until deadline: ContinuousClock.Instant
    ) async throws -> [PostgresRow] {
        let context: JSONValue = ["lock_timeout_ms": .int(PostgresConnection.milliseconds(until: deadline))]
        let binds = [tenant.rawValue, context.jsonText, call.jsonText]
        let (statements, logger) = (statements, logger)
        return try await database.withConnection(until: deadline) { connection in
            try await statements.run(sql, binds: binds, on: connection, logger: logger)
        }
    }
}

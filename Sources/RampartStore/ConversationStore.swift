import Foundation
import Logging
import PostgresNIO
import RampartCore

/// A conversation row as the server needs it on every call.
public struct ConversationRecord: Sendable, Equatable {
    public let id: String
    public let scope: [String]
    public let protocolVersion: String?
    public let expiresAt: Date
    /// The tenant's cap on distinct resources per conversation.
    public let maxResources: Int
}

/// Conversations (handshake-era sessions, stateless-era handles) bound to the principal that
/// opened them. Every lookup names (tenant, issuer, subject), so another principal's id — even
/// one of the same tenant — finds nothing, exactly like an unknown one.
public struct ConversationStore: Sendable {
    public enum Kind: String, Sendable { case session, handle, implicit }

    public let connection: PostgresConnection
    public let principal: Principal
    public let logger: Logger

    public init(connection: PostgresConnection, principal: Principal, logger: Logger) {
        self.connection = connection
        self.principal = principal
        self.logger = logger
    }

    /// Opens a conversation that idles out after the tenant's idle TTL.
    public func create(
        _ kind: Kind,
        id: String,
        scope: [String],
        purpose: String? = nil,
        protocolVersion: String? = nil
    ) async throws -> ConversationRecord {
        // An implicit conversation's id derives from its token, so its row must outlive a revocation
        // until the token expires (the sweeper keeps it): else the token would open it afresh.
        let tokenExpiry: Int64? = kind == .implicit ? principal.expiresAt : nil
        let rows = try await connection.fetch(
            """
            INSERT INTO rampart.conversations
                (tenant_id, conversation_id, kind, issuer, subject, protocol_version, scope, purpose, token_expires_at,
                 expires_at)
            SELECT \(principal.tenant.rawValue), \(id), \(kind.rawValue), \(principal.issuer), \(principal.subject),
                   \(protocolVersion), \(scope), \(purpose), to_timestamp(\(tokenExpiry)::bigint),
                   now() + make_interval(secs => least(coalesce(l.conversation_idle_seconds, 1800),
                                                       coalesce(l.conversation_lifetime_seconds, 28800)))
            FROM (SELECT NULL) AS one
            LEFT JOIN rampart.tenant_limits l ON l.tenant_id = \(principal.tenant.rawValue)
            ON CONFLICT (tenant_id, conversation_id) DO NOTHING
            RETURNING expires_at,
                (SELECT coalesce(max(max_resources_per_conversation), 100) FROM rampart.tenant_limits
                 WHERE tenant_id = \(principal.tenant.rawValue))
            """,
            logger: logger
        )
        for (expiresAt, maxResources) in try rows.decode((Date, Int).self) {
            return ConversationRecord(
                id: id,
                scope: scope,
                protocolVersion: protocolVersion,
                expiresAt: expiresAt,
                maxResources: maxResources
            )
        }
        throw ConversationExists()
    }

    /// The live conversation `id` of this principal, its idle timer restarted; nil when it is
    /// unknown, expired, revoked or another principal's.
    public func touch(_ kind: Kind, id: String) async throws -> ConversationRecord? {
        let tenant = principal.tenant.rawValue
        let rows = try await connection.fetch(
            """
            UPDATE rampart.conversations c
            SET last_used_at = now(),
                expires_at = least(
                    now() + make_interval(secs => coalesce(l.conversation_idle_seconds, 1800)),
                    c.created_at + make_interval(secs => coalesce(l.conversation_lifetime_seconds, 28800)))
            FROM (SELECT NULL) AS one
            LEFT JOIN rampart.tenant_limits l ON l.tenant_id = \(tenant)
            WHERE c.tenant_id = \(tenant) AND c.conversation_id = \(id) AND c.kind = \(kind.rawValue)
              AND c.issuer = \(principal.issuer) AND c.subject = \(principal.subject)
              AND c.revoked_at IS NULL AND c.expires_at > now()
            RETURNING c.scope, c.protocol_version, c.expires_at, coalesce(l.max_resources_per_conversation, 100)
            """,
            logger: logger
        )
        for (scope, version, expiresAt, maxResources) in try rows.decode(([String], String?, Date, Int).self) {
            return ConversationRecord(
                id: id,
                scope: scope,
                protocolVersion: version,
                expiresAt: expiresAt,
                maxResources: maxResources
            )
        }
        return nil
    }

    /// Records that `uris` reach the conversation, up to its cap of distinct resources: the ones
    /// already touched, plus as many new ones as the cap still allows (in the given order). The
    /// conversation row is locked by `touch` earlier in the transaction, so concurrent calls of one
    /// conversation cannot both take the last slot.
    public func admit(_ uris: [String], to conversation: ConversationRecord) async throws -> Set<String> {
        let admitted = try await admit(groups: uris.map { [$0] }, to: conversation)
        return Set(zip(uris, admitted).filter(\.1).map(\.0))
    }

    /// Admits each group of URIs whole or not at all, in order: a group (the documents behind a
    /// query's aggregate row) is admitted when all its resources fit under the cap together.
    public func admit(groups: [[String]], to conversation: ConversationRecord) async throws -> [Bool] {
        let wanted = Set(groups.joined())
        guard !wanted.isEmpty else { return groups.map { _ in true } }
        let tenant = principal.tenant.rawValue
        var known: Set<String> = []
        var count = 0
        let rows = try await connection.fetch(
            """
            SELECT uri, count(*) OVER () FROM rampart.conversation_resources
            WHERE tenant_id = \(tenant) AND conversation_id = \(conversation.id)
            """,
            logger: logger
        )
        for (uri, total) in try rows.decode((String, Int).self) {
            count = total
            if wanted.contains(uri) { known.insert(uri) }
        }
        var fresh: [String] = []
        var freshSet: Set<String> = []
        var admitted: [Bool] = []
        for group in groups {
            var new: [String] = []
            for uri in group where !known.contains(uri) && !freshSet.contains(uri) && !new.contains(uri) {
                new.append(uri)
            }
            let fits = count + fresh.count + new.count <= conversation.maxResources
            if fits {
                fresh += new
                freshSet.formUnion(new)
            }
            admitted.append(fits)
        }
        if !fresh.isEmpty {
            try await connection.execute(
                """
                INSERT INTO rampart.conversation_resources (tenant_id, conversation_id, uri)
                SELECT \(tenant), \(conversation.id), unnest(\(fresh)::text[])
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
        return admitted
    }

    /// Ends a live conversation of this principal; false when there was none to end.
    public func end(_ kind: Kind, id: String) async throws -> Bool {
        let rows = try await connection.fetch(
            """
            UPDATE rampart.conversations SET revoked_at = now()
            WHERE tenant_id = \(principal.tenant.rawValue) AND conversation_id = \(id) AND kind = \(kind.rawValue)
              AND issuer = \(principal.issuer) AND subject = \(principal.subject)
              AND revoked_at IS NULL AND expires_at > now()
            RETURNING 1
            """,
            logger: logger
        )
        return !rows.isEmpty
    }
}

/// `create` found the id taken (two first calls of one token racing to open its implicit
/// conversation; random ids never collide).
public struct ConversationExists: Error, Sendable {}

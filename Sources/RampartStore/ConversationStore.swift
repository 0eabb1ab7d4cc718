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
        let rows = try await connection.query(
            """
            INSERT INTO rampart.conversations
                (tenant_id, conversation_id, kind, issuer, subject, protocol_version, scope, purpose, expires_at)
            SELECT \(principal.tenant.rawValue), \(id), \(kind.rawValue), \(principal.issuer), \(principal.subject),
                   \(protocolVersion), \(scope), \(purpose),
                   now() + make_interval(secs => coalesce(
                       (SELECT conversation_idle_seconds FROM rampart.tenant_limits
                        WHERE tenant_id = \(principal.tenant.rawValue)), 1800))
            RETURNING expires_at
            """,
            logger: logger
        )
        for try await expiresAt in rows.decode(Date.self) {
            return ConversationRecord(id: id, scope: scope, protocolVersion: protocolVersion, expiresAt: expiresAt)
        }
        throw RampartError.internal(detail: "conversation insert returned no row")
    }

    /// The live conversation `id` of this principal, its idle timer restarted; nil when it is
    /// unknown, expired, revoked or another principal's.
    public func touch(_ kind: Kind, id: String) async throws -> ConversationRecord? {
        let tenant = principal.tenant.rawValue
        let rows = try await connection.query(
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
            RETURNING c.scope, c.protocol_version, c.expires_at
            """,
            logger: logger
        )
        for try await (scope, version, expiresAt) in rows.decode(([String], String?, Date).self) {
            return ConversationRecord(id: id, scope: scope, protocolVersion: version, expiresAt: expiresAt)
        }
        return nil
    }

    /// Ends a live conversation of this principal; false when there was none to end.
    public func end(_ kind: Kind, id: String) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE rampart.conversations SET revoked_at = now()
            WHERE tenant_id = \(principal.tenant.rawValue) AND conversation_id = \(id) AND kind = \(kind.rawValue)
              AND issuer = \(principal.issuer) AND subject = \(principal.subject)
              AND revoked_at IS NULL AND expires_at > now()
            RETURNING 1
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }
}

/// What authentication needs to know about a tenant.
public struct TenantAccess: Sendable, Equatable {
    public let active: Bool
    public let grantedScopes: Set<Scope>

    /// The tenant's status and grants, read inside its own tenant transaction; nil when the
    /// tenant does not exist.
    public static func load(
        _ tenant: TenantID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> TenantAccess? {
        try await connection.withTenantTransaction(tenant, logger: logger) { connection in
            let rows = try await connection.query(
                """
                SELECT t.status, array(SELECT s.scope FROM rampart.tenant_scopes s
                                       WHERE s.tenant_id = t.tenant_id ORDER BY s.scope)
                FROM rampart.tenants t WHERE t.tenant_id = \(tenant.rawValue)
                """,
                logger: logger
            )
            for try await (status, scopes) in rows.decode((String, [String]).self) {
                return TenantAccess(
                    active: status == "active",
                    grantedScopes: Set(scopes.compactMap(Scope.init(known:)))
                )
            }
            return nil
        }
    }
}

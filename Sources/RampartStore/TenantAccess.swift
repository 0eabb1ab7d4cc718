import Logging
import PostgresNIO
import RampartCore

/// What authentication and the rate limiter need to know about a tenant.
public struct TenantAccess: Sendable, Equatable {
    public let active: Bool
    public let grantedScopes: Set<Scope>
    /// Calls per minute: tenant, user, conversation, resource (CONTRACT.md §10 defaults).
    public var tenantPerMinute = 1000
    public var userPerMinute = 100
    public var conversationPerMinute = 50
    public var resourcePerMinute = 20
    /// The tenant's redaction rules, every collection.
    public var redactions: [RedactionRule] = []
    /// Whether responses are scanned for PII and secrets (`rampart admin redact detect`).
    public var piiDetection = false
    /// New conversations a user may open per minute.
    public var conversationsPerUserPerMinute = 5
    /// Where new conversations start; nil means the whole tenant.
    public var defaultScope: [String]?

    /// The tenant's status and grants, read inside its own tenant transaction; nil when the
    /// tenant does not exist.
    public static func load(
        _ tenant: TenantID,
        until deadline: ContinuousClock.Instant? = nil,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> TenantAccess? {
        try await connection.withTenantTransaction(tenant, until: deadline, logger: logger) { connection in
            let rows = try await connection.fetch(
                """
                SELECT t.status, array(SELECT s.scope FROM rampart.tenant_scopes s
                                       WHERE s.tenant_id = t.tenant_id ORDER BY s.scope),
                       coalesce(l.tenant_per_minute, 1000), coalesce(l.user_per_minute, 100),
                       coalesce(l.conversation_per_minute, 50), coalesce(l.resource_per_minute, 20),
                       coalesce(l.pii_detection, false), coalesce(l.conversations_per_user_per_minute, 5),
                       l.default_scope
                FROM rampart.tenants t LEFT JOIN rampart.tenant_limits l ON l.tenant_id = t.tenant_id
                WHERE t.tenant_id = \(tenant.rawValue)
                """,
                logger: logger
            )
            var found: TenantAccess?
            for row in try rows.decode((String, [String], Int, Int, Int, Int, Bool, Int, [String]?).self) {
                var access = TenantAccess(
                    active: row.0 == "active",
                    grantedScopes: Set(row.1.compactMap(Scope.init(known:)))
                )
                (access.tenantPerMinute, access.userPerMinute) = (row.2, row.3)
                (access.conversationPerMinute, access.resourcePerMinute) = (row.4, row.5)
                (access.piiDetection, access.conversationsPerUserPerMinute, access.defaultScope) = (row.6, row.7, row.8)
                found = access
            }
            guard var access = found else { return nil }
            let rules = try await connection.fetch(
                """
                SELECT collection, field, action, unless_scope FROM rampart.redaction_rules
                WHERE tenant_id = \(tenant.rawValue) ORDER BY collection, field
                """,
                logger: logger
            )
            for (collection, field, action, unless) in try rules.decode((String, String, String, String?).self) {
                guard let action = RedactionRule.Action(rawValue: action) else { continue }
                access.redactions.append(
                    RedactionRule(
                        collection: collection,
                        field: field,
                        action: action,
                        unlessScope: unless.flatMap(Scope.init(known:))
                    )
                )
            }
            return access
        }
    }
}

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

    /// The tenant's status, grants, limits and redaction rules in one statement
    /// (`rampart.tenant_access`, sql/010); nil when the tenant does not exist.
    public static func load(
        _ tenant: TenantID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> TenantAccess? {
        let rows = try await connection.fetch(
            """
            SELECT status, scopes, tenant_per_minute, user_per_minute, conversation_per_minute, resource_per_minute,
                   pii_detection, conversations_per_user_per_minute, default_scope, redactions::text
            FROM rampart.tenant_access(\(tenant.rawValue))
            """,
            logger: logger
        )
        for row in rows {
            let (
                status, scopes, tenantPerMinute, userPerMinute, conversationPerMinute, resourcePerMinute, detection,
                creation, defaultScope, redactions
            ) = try row.decode(
                (String, [String], Int, Int, Int, Int, Bool, Int, [String]?, String).self
            )
            var access = TenantAccess(
                active: status == "active",
                grantedScopes: Set(scopes.compactMap(Scope.init(known:)))
            )
            (access.tenantPerMinute, access.userPerMinute) = (tenantPerMinute, userPerMinute)
            (access.conversationPerMinute, access.resourcePerMinute) = (conversationPerMinute, resourcePerMinute)
            (access.piiDetection, access.conversationsPerUserPerMinute) = (detection, creation)
            access.defaultScope = defaultScope
            for rule in try JSONParser.parse(redactions).arrayValue ?? [] {
                guard let collection = rule["collection"]?.stringValue, let field = rule["field"]?.stringValue,
                    let action = rule["action"]?.stringValue.flatMap(RedactionRule.Action.init(rawValue:))
                else { continue }
                access.redactions.append(
                    RedactionRule(
                        collection: collection,
                        field: field,
                        action: action,
                        unlessScope: rule["unless_scope"]?.stringValue.flatMap(Scope.init(known:))
                    )
                )
            }
            return access
        }
        return nil
    }
}

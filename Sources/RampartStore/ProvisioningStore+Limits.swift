import Foundation
import PostgresNIO
import RampartCore

/// A tenant's limits, as `rampart admin limits show` prints them.
public struct TenantLimits: Sendable, Codable, Equatable {
    public var tenantPerMinute: Int
    public var userPerMinute: Int
    public var conversationPerMinute: Int
    public var resourcePerMinute: Int
    public var conversationsPerUserPerMinute: Int
    public var maxResourcesPerConversation: Int
    public var conversationIdleSeconds: Int
    public var conversationLifetimeSeconds: Int
    /// nil: the whole tenant.
    public var defaultScope: [String]?
}

/// The limits to change; nil keeps a value, an empty `defaultScope` resets it to the whole tenant.
public struct LimitChanges: Sendable {
    public var tenantPerMinute: Int?
    public var userPerMinute: Int?
    public var conversationPerMinute: Int?
    public var resourcePerMinute: Int?
    public var conversationsPerUserPerMinute: Int?
    public var maxResourcesPerConversation: Int?
    public var conversationIdleSeconds: Int?
    public var conversationLifetimeSeconds: Int?
    public var defaultScope: [String]?

    public init() {}
}

public struct ConversationSummary: Sendable, Codable, Equatable {
    public let conversation: String
    public let kind: String
    public let subject: String
    public let scope: [String]
    public let purpose: String?
    public let createdAt: Date
    public let lastUsedAt: Date
    public let expiresAt: Date
    public let resources: Int64
    public let status: String
}

extension ProvisioningStore {
    private static let limitColumns = """
        tenant_per_minute, user_per_minute, conversation_per_minute, resource_per_minute,
        conversations_per_user_per_minute, max_resources_per_conversation, conversation_idle_seconds,
        conversation_lifetime_seconds, default_scope
        """

    public func setLimits(_ tenant: TenantID, _ changes: LimitChanges) async throws -> TenantLimits {
        let c = changes
        return try await limits(
            """
            SELECT \(unescaped: Self.limitColumns) FROM rampart.set_limits(\(tenant.rawValue),
                \(c.tenantPerMinute.map(Int32.init)), \(c.userPerMinute.map(Int32.init)),
                \(c.conversationPerMinute.map(Int32.init)), \(c.resourcePerMinute.map(Int32.init)),
                \(c.conversationsPerUserPerMinute.map(Int32.init)), \(c.maxResourcesPerConversation.map(Int32.init)),
                \(c.conversationIdleSeconds.map(Int32.init)), \(c.conversationLifetimeSeconds.map(Int32.init)),
                \(c.defaultScope)::text[])
            """
        )
    }

    public func showLimits(_ tenant: TenantID) async throws -> TenantLimits {
        try await limits("SELECT \(unescaped: Self.limitColumns) FROM rampart.show_limits(\(tenant.rawValue))")
    }

    private func limits(_ query: PostgresQuery) async throws -> TenantLimits {
        do {
            let rows = try await connection.fetch(query, logger: logger)
            for row in try rows.decode((Int?, Int?, Int?, Int?, Int?, Int?, Int?, Int?, [String]?).self) {
                return TenantLimits(
                    tenantPerMinute: row.0 ?? 1000,
                    userPerMinute: row.1 ?? 100,
                    conversationPerMinute: row.2 ?? 50,
                    resourcePerMinute: row.3 ?? 20,
                    conversationsPerUserPerMinute: row.4 ?? 5,
                    maxResourcesPerConversation: row.5 ?? 100,
                    conversationIdleSeconds: row.6 ?? 1800,
                    conversationLifetimeSeconds: row.7 ?? 28800,
                    defaultScope: row.8
                )
            }
            throw RampartError.internal(detail: "limits function returned no row")
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    public func listConversations(_ tenant: TenantID) async throws -> [ConversationSummary] {
        do {
            let rows = try await connection.fetch(
                """
                SELECT conversation_id, kind, subject, scope, purpose, created_at, last_used_at, expires_at, resources,
                       status
                FROM rampart.list_conversations(\(tenant.rawValue))
                """,
                logger: logger
            )
            var conversations: [ConversationSummary] = []
            for row in try rows.decode(
                (String, String, String, [String], String?, Date, Date, Date, Int64, String).self
            ) {
                conversations.append(
                    ConversationSummary(
                        conversation: row.0,
                        kind: row.1,
                        subject: row.2,
                        scope: row.3,
                        purpose: row.4,
                        createdAt: row.5,
                        lastUsedAt: row.6,
                        expiresAt: row.7,
                        resources: row.8,
                        status: row.9
                    )
                )
            }
            return conversations
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    /// Revokes a conversation of any tenant; returns its tenant.
    public func revokeConversation(_ id: String) async throws -> String {
        do {
            let rows = try await connection.fetch(
                "SELECT tenant_id FROM rampart.revoke_conversation(\(id))",
                logger: logger
            )
            for tenant in try rows.decode(String.self) { return tenant }
            throw RampartError.internal(detail: "revoke_conversation returned no row")
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}

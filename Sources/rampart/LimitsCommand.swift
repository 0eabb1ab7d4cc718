import ArgumentParser
import Foundation
import RampartCore
import RampartStore

struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract: "Set and show a tenant's rate limits, conversation caps and default scope.",
        subcommands: [Set.self, Show.self]
    )

    static func printLimits(_ tenant: TenantID, _ limits: TenantLimits, json: Bool) throws {
        if json { return try Console.printJSON(limits) }
        Console.printTable(
            ["LIMIT", "VALUE"],
            [
                ["tenant-per-minute", String(limits.tenantPerMinute)],
                ["user-per-minute", String(limits.userPerMinute)],
                ["conversation-per-minute", String(limits.conversationPerMinute)],
                ["resource-per-minute", String(limits.resourcePerMinute)],
                ["conversations-per-user-per-minute", String(limits.conversationsPerUserPerMinute)],
                ["max-resources-per-conversation", String(limits.maxResourcesPerConversation)],
                ["conversation-idle-seconds", String(limits.conversationIdleSeconds)],
                ["conversation-lifetime-seconds", String(limits.conversationLifetimeSeconds)],
                ["default-scope", limits.defaultScope?.joined(separator: " ") ?? "tenant://\(tenant)/*"],
            ]
        )
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the given limits; the others keep their values."
        )
        @Argument var tenant: String
        @Option var tenantPerMinute: Int?
        @Option var userPerMinute: Int?
        @Option var conversationPerMinute: Int?
        @Option var resourcePerMinute: Int?
        @Option var conversationsPerUserPerMinute: Int?
        @Option var maxResourcesPerConversation: Int?
        @Option var conversationIdleSeconds: Int?
        @Option var conversationLifetimeSeconds: Int?
        @Option(
            parsing: .upToNextOption,
            help:
                "URI patterns new conversations start from (tenant://T/*, tenant://T/C/*, tenant://T/C/ID); none resets."
        )
        var defaultScope: [String] = []
        @Flag(help: "Reset the default scope to the whole tenant.") var resetDefaultScope = false
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            var changes = LimitChanges()
            changes.tenantPerMinute = tenantPerMinute
            changes.userPerMinute = userPerMinute
            changes.conversationPerMinute = conversationPerMinute
            changes.resourcePerMinute = resourcePerMinute
            changes.conversationsPerUserPerMinute = conversationsPerUserPerMinute
            changes.maxResourcesPerConversation = maxResourcesPerConversation
            changes.conversationIdleSeconds = conversationIdleSeconds
            changes.conversationLifetimeSeconds = conversationLifetimeSeconds
            if resetDefaultScope {
                changes.defaultScope = []
            } else if !defaultScope.isEmpty {
                for pattern in defaultScope {
                    let parsed = try ScopePattern(parsing: pattern)
                    guard parsed.tenant == tenantID else {
                        throw RampartError.invalidArgument("default scope \(pattern) names another tenant")
                    }
                }
                changes.defaultScope = defaultScope
            }
            let limits = try await connection.withStore { try await $0.setLimits(tenantID, changes) }
            try LimitsCommand.printLimits(tenantID, limits, json: connection.json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a tenant's limits.")
        @Argument var tenant: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            let limits = try await connection.withStore { try await $0.showLimits(tenantID) }
            try LimitsCommand.printLimits(tenantID, limits, json: connection.json)
        }
    }
}

struct ConversationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversation",
        abstract: "List a tenant's conversations; revoke one (every server process refuses it within a second).",
        subcommands: [List.self, Revoke.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's conversations.")
        @Argument var tenant: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            let conversations = try await connection.withStore { try await $0.listConversations(tenantID) }
            if connection.json { return try Console.printJSON(conversations) }
            Console.printTable(
                ["CONVERSATION", "KIND", "SUBJECT", "STATUS", "RESOURCES", "EXPIRES", "SCOPE"],
                conversations.map {
                    [
                        $0.conversation, $0.kind, $0.subject, $0.status, String($0.resources),
                        $0.expiresAt.formatted(.iso8601), $0.scope.joined(separator: " "),
                    ]
                }
            )
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a conversation (a session or a handle).")
        @Argument var id: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenant = try await connection.withStore { try await $0.revokeConversation(id) }
            if connection.json {
                print(
                    JSONValue.object(["conversation": .string(id), "tenant": .string(tenant), "revoked": true]).jsonText
                )
            } else {
                print("revoked conversation \(id) of tenant \(tenant)")
            }
        }
    }
}

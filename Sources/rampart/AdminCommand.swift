import ArgumentParser
import Foundation
import RampartCore
import RampartStore

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Provision tenants, scopes and documents (through the SQL functions of sql/).",
        subcommands: [
            TenantCommand.self, ScopeCommand.self, ResourceCommand.self, LimitsCommand.self, ConversationCommand.self,
            BudgetCommand.self, CostCommand.self, RedactCommand.self,
        ]
    )
}

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create, list, show, suspend and resume tenants.",
        subcommands: [Create.self, List.self, Show.self, Suspend.self, Resume.self]
    )

    static func printTenants(_ tenants: [TenantRecord], json: Bool) throws {
        if json { return try Console.printJSON(tenants) }
        Console.printTable(
            ["TENANT", "STATUS", "DOCUMENTS", "BUDGET", "SCOPES", "NAME"],
            tenants.map {
                [
                    $0.id, $0.status, String($0.documents), $0.dailyBudget.map(String.init) ?? "-",
                    $0.scopes.joined(separator: " "), $0.name,
                ]
            }
        )
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @Argument(help: "Tenant id: 1-63 lowercase letters, digits and dashes.") var id: String
        @Option(help: "Display name (default: the id).") var name: String?
        @Option(help: "Daily budget in cost units.") var dailyBudget: Int64?
        @Option(help: "Space-separated scopes to grant (default: the four resources:* scopes).") var scopes: String?
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenant = try TenantID(validating: id)
            let granted = try scopes.map { raw throws(RampartError) in
                try Scope.parseList(raw.split(separator: " ").map(String.init))
            }
            let record = try await connection.withStore { store in
                try await store.createTenant(tenant, name: name, dailyBudget: dailyBudget, scopes: granted)
            }
            try printTenants([record], json: connection.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every tenant.")
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            try printTenants(try await connection.withStore { try await $0.listTenants() }, json: connection.json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one tenant.")
        @Argument var id: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenant = try TenantID(validating: id)
            let record = try await connection.withStore { try await $0.showTenant(tenant) }
            if connection.json { return try Console.printJSON(record) }
            try printTenants([record], json: false)
        }
    }

    static func setSuspended(_ id: String, _ suspended: Bool, _ connection: AdminConnectionOptions) async throws {
        let tenant = try TenantID(validating: id)
        let record = try await connection.withStore { try await $0.setSuspended(tenant, suspended) }
        try printTenants([record], json: connection.json)
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend a tenant: its tokens get 403.")
        @Argument var id: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            try await setSuspended(id, true, connection)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a suspended tenant.")
        @Argument var id: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            try await setSuspended(id, false, connection)
        }
    }
}

struct ScopeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scope",
        abstract: "Grant, revoke and list the scopes a tenant's tokens may use.",
        subcommands: [Grant.self, Revoke.self, List.self]
    )

    static func printScopes(_ tenant: TenantID, _ scopes: [String], json: Bool) throws {
        if json {
            return try Console.printJSON([
                "tenant": .string(tenant.rawValue), "scopes": JSONValue.array(scopes.map(JSONValue.string)),
            ])
        }
        print(scopes.isEmpty ? "(no scopes)" : scopes.joined(separator: "\n"))
    }

    struct Grant: AsyncParsableCommand {
        @Argument var tenant: String
        @Argument(help: "Scopes: resources:read resources:search resources:write resources:query pii:read")
        var scopes: [String]
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let id = try TenantID(validating: tenant)
            let parsed = try Scope.parseList(scopes)
            try printScopes(
                id,
                try await connection.withStore { try await $0.grantScopes(id, parsed) },
                json: connection.json
            )
        }
    }

    struct Revoke: AsyncParsableCommand {
        @Argument var tenant: String
        @Argument var scopes: [String]
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let id = try TenantID(validating: tenant)
            let parsed = try Scope.parseList(scopes)
            try printScopes(
                id,
                try await connection.withStore { try await $0.revokeScopes(id, parsed) },
                json: connection.json
            )
        }
    }

    struct List: AsyncParsableCommand {
        @Argument var tenant: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let id = try TenantID(validating: tenant)
            try printScopes(id, try await connection.withStore { try await $0.listScopes(id) }, json: connection.json)
        }
    }
}

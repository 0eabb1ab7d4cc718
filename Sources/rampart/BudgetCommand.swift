import ArgumentParser
import Foundation
import RampartCore
import RampartStore

struct BudgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract: "Set and show daily (UTC) budgets in cost units, per tenant or per user.",
        subcommands: [Set.self, Show.self]
    )

    static func printStatus(_ status: BudgetStatus, json: Bool) {
        if json { return print(status.json.jsonText) }
        let user = status.user.map { user in status.issuer.map { "user \(user) of issuer \($0)" } ?? "user \(user)" }
        let who = user.map { "\($0) of tenant \(status.tenant)" } ?? "tenant \(status.tenant)"
        print("\(who) on \(status.day): spent \(status.spent) of \(status.limit.map(String.init) ?? "unlimited")")
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a daily budget.")
        @Argument var tenant: String
        @Option(help: "Cost units a day (0 refuses every charged call).") var daily: Int64
        @Option(help: "A user (the token's sub) instead of the whole tenant.") var user: String?
        @Option(help: "Only the user of this issuer (the token's iss); default: that user of every issuer.")
        var issuer: String?
        @OptionGroup var connection: AdminConnectionOptions

        func validate() throws {
            if issuer != nil, user == nil { throw ValidationError("--issuer goes with --user") }
        }

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            let status = try await connection.withStore {
                try await $0.setBudget(tenantID, daily: daily, user: user, issuer: issuer)
            }
            BudgetCommand.printStatus(status, json: connection.json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show today's budget and spending.")
        @Argument var tenant: String
        @Option(help: "A user (the token's sub) instead of the whole tenant.") var user: String?
        @Option(help: "Only the user of this issuer; default: that user of every issuer, spending summed.")
        var issuer: String?
        @OptionGroup var connection: AdminConnectionOptions

        func validate() throws {
            if issuer != nil, user == nil { throw ValidationError("--issuer goes with --user") }
        }

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            let status = try await connection.withStore {
                try await $0.showBudget(tenantID, user: user, issuer: issuer)
            }
            BudgetCommand.printStatus(status, json: connection.json)
        }
    }
}

struct CostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Set and list what each operation (tool) costs, for every tenant or one.",
        subcommands: [Set.self, List.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an operation's cost.")
        @Argument(help: "A tool name: read_resource, list_resources, search_resources, write_resource, ...")
        var operation: Operation
        @Argument var units: Int
        @Option(help: "Only for this tenant (default: every tenant).") var tenant: String?
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try tenant.map { raw throws(RampartError) in try TenantID(validating: raw) }
            try await connection.withStore { try await $0.setCost(operation.name, units: units, tenant: tenantID) }
            try await CostCommand.printCosts(tenant: tenantID, connection: connection)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every operation's cost.")
        @Option(help: "With this tenant's overrides.") var tenant: String?
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try tenant.map { raw throws(RampartError) in try TenantID(validating: raw) }
            try await CostCommand.printCosts(tenant: tenantID, connection: connection)
        }
    }

    static func printCosts(tenant: TenantID?, connection: AdminConnectionOptions) async throws {
        let costs = try await connection.withStore { try await $0.listCosts(tenant: tenant) }
        if connection.json {
            let entries = costs.map { cost -> JSONValue in
                [
                    "operation": .string(cost.operation), "units": .int(Int64(cost.units)),
                    "overridden": .bool(cost.overridden),
                ]
            }
            return print(JSONValue.array(entries).jsonText)
        }
        Console.printTable(
            ["OPERATION", "UNITS", "SOURCE"],
            costs.map { [$0.operation, String($0.units), $0.overridden ? "tenant" : "default"] }
        )
    }
}

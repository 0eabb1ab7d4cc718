import ArgumentParser
import Foundation
import RampartCore
import RampartStore

struct RedactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redact",
        abstract: "Hide fields from callers without a scope: redact, remove or mask (docs/redaction.md).",
        subcommands: [Add.self, List.self, Remove.self, Detect.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add (or change) a rule on a collection's field.")
        @Argument var tenant: String
        @Argument var collection: String
        @Argument(help: "A key name (any depth) or a dotted path from the root (contact.ssn).") var field: String
        @Option(help: "redact (***REDACTED***), remove, or mask (keep the last 4 characters).")
        var action: RedactionRule.Action
        @Option(help: "Callers holding this scope see the field.") var unlessScope: String?
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            _ = try CollectionName(validating: collection)
            _ = try FieldPath(validating: field)
            if let unlessScope { _ = try Scope.parseList([unlessScope]) }
            try await connection.withStore {
                try await $0.addRedaction(
                    tenantID,
                    collection: collection,
                    field: field,
                    action: action.rawValue,
                    unlessScope: unlessScope
                )
            }
            try await RedactCommand.printRules(tenantID, connection: connection)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's rules.")
        @Argument var tenant: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            try await RedactCommand.printRules(try TenantID(validating: tenant), connection: connection)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a rule.")
        @Argument var tenant: String
        @Argument var collection: String
        @Argument var field: String
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            try await connection.withStore {
                try await $0.removeRedaction(tenantID, collection: collection, field: field)
            }
            try await RedactCommand.printRules(tenantID, connection: connection)
        }
    }

    struct Detect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn detection of PII and secrets in responses on or off for a tenant."
        )
        @Argument var tenant: String
        @Argument(help: "on or off") var state: Switch
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try TenantID(validating: tenant)
            try await connection.withStore { try await $0.setDetection(tenantID, on: state == .on) }
            print(
                connection.json
                    ? #"{"tenant":"\#(tenant)","detection":\#(state == .on)}"#
                    : "detection \(state.rawValue) for \(tenant)"
            )
        }
    }

    static func printRules(_ tenant: TenantID, connection: AdminConnectionOptions) async throws {
        let rules = try await connection.withStore { try await $0.listRedactions(tenant) }
        if connection.json {
            let entries = rules.map { rule -> JSONValue in
                [
                    "collection": .string(rule.collection), "field": .string(rule.field),
                    "action": .string(rule.action.rawValue),
                    "unless_scope": rule.unlessScope.map { .string($0.rawValue) } ?? .null,
                ]
            }
            return print(JSONValue.array(entries).jsonText)
        }
        Console.printTable(
            ["COLLECTION", "FIELD", "ACTION", "UNLESS SCOPE"],
            rules.map { [$0.collection, $0.field, $0.action.rawValue, $0.unlessScope?.rawValue ?? "-"] }
        )
    }
}

import ArgumentParser
import Foundation
import Logging
import RampartCore
import RampartStore

struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Apply and inspect the schema migrations of sql/.",
        subcommands: [Migrate.self, Status.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending migrations, each in one transaction (safe to run concurrently)."
        )
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let migrator = Migrator(migrations: try MigrationCatalog.bundled())
            let logger = Console.makeLogger(label: "rampart.db", defaultLevel: .warning)
            let applied = try await connection.resolvedURL().withConnection(logger: logger) { conn in
                try await migrator.migrate(on: conn, logger: logger)
            }
            if connection.json {
                try Console.printJSON(["applied": applied])
            } else if applied.isEmpty {
                print("schema is up to date (\(migrator.migrations.count) migrations)")
            } else {
                for name in applied { print("applied \(name)") }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each migration and whether it is applied.")
        @OptionGroup var connection: AdminConnectionOptions

        struct Row: Encodable {
            let version: Int
            let name: String
            let state: String
            let appliedAt: Date?
        }

        func run() async throws {
            let migrator = Migrator(migrations: try MigrationCatalog.bundled())
            let logger = Console.makeLogger(label: "rampart.db", defaultLevel: .warning)
            let entries = try await connection.resolvedURL().withConnection(logger: logger) { conn in
                try await migrator.status(on: conn, logger: logger)
            }
            if connection.json {
                try Console.printJSON(
                    entries.map {
                        Row(version: $0.version, name: $0.name, state: $0.state.rawValue, appliedAt: $0.appliedAt)
                    }
                )
            } else {
                Console.printTable(
                    ["VERSION", "STATE", "NAME"],
                    entries.map { [String($0.version), $0.state.rawValue, $0.name] }
                )
            }
            if let bad = entries.first(where: { $0.state == .edited || $0.state == .unknown }) {
                throw RampartError(.refused, "migration \(bad.name) is \(bad.state.rawValue)")
            }
        }
    }
}

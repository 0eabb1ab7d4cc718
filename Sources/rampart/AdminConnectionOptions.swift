import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartServer
import RampartStore

/// The database connection of `rampart db` and `rampart admin`: `--database-url`, else
/// `RAMPART_ADMIN_DATABASE_URL`.
struct AdminConnectionOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (default: $RAMPART_ADMIN_DATABASE_URL).")
    var databaseURL: String?

    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false

    func resolvedURL() throws(RampartError) -> DatabaseURL {
        if let databaseURL { return try DatabaseURL(parsing: databaseURL, key: "--database-url") }
        let environment = try SecretFiles.resolve(ProcessInfo.processInfo.environment)
        guard let raw = environment["RAMPART_ADMIN_DATABASE_URL"], !raw.isEmpty else {
            throw .configuration(key: "RAMPART_ADMIN_DATABASE_URL", "required (or pass --database-url)")
        }
        return try DatabaseURL(parsing: raw, key: "RAMPART_ADMIN_DATABASE_URL")
    }

    func withConnection<R: Sendable>(_ body: (PostgresConnection, Logger) async throws -> R) async throws -> R {
        let logger = Console.makeLogger(label: "rampart.admin", defaultLevel: .warning)
        return try await resolvedURL().withConnection(logger: logger) { connection in
            try await body(connection, logger)
        }
    }

    func withStore<R: Sendable>(_ body: (ProvisioningStore) async throws -> R) async throws -> R {
        let logger = Console.makeLogger(label: "rampart.admin", defaultLevel: .warning)
        return try await resolvedURL().withConnection(logger: logger) { connection in
            try await body(ProvisioningStore(connection: connection, logger: logger))
        }
    }
}

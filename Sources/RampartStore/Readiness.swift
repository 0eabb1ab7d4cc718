import Logging
import PostgresNIO
import RampartCore

/// What `/readyz` reports: the database answers and every bundled migration is applied.
public struct Readiness: Sendable {
    public let ready: Bool
    public let reason: String

    public static func check(
        client: PostgresClient,
        migrations: [Migration],
        logger: Logger
    ) async -> Readiness {
        do {
            var applied: [Int: String] = [:]
            let rows = try await client.query("SELECT version, checksum FROM rampart.schema_migrations", logger: logger)
            for try await (version, checksum) in rows.decode((Int, String).self) { applied[version] = checksum }
            for migration in migrations where applied[migration.version] != migration.checksum {
                return Readiness(ready: false, reason: "migrations are not current")
            }
            return Readiness(ready: true, reason: "ready")
        } catch {
            logger.debug("readiness check failed", metadata: ["error": "\(String(reflecting: error))"])
            return Readiness(ready: false, reason: "database unavailable")
        }
    }
}

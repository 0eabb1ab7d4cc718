import Logging
import PostgresNIO
import RampartCore

/// What `/readyz` reports: the database answers and every bundled migration is applied.
public struct Readiness: Sendable {
    public let ready: Bool
    public let reason: String

    /// The check's answer by `deadline` whatever the database does: unreachable, locked or slow
    /// past it counts as unavailable.
    public static func check(
        database: Database,
        migrations: [Migration],
        until deadline: ContinuousClock.Instant,
        logger: Logger
    ) async -> Readiness {
        do {
            let applied = try await database.withConnection(until: deadline) { connection in
                var applied: [Int: String] = [:]
                let rows = try await connection.fetch(
                    "SELECT version, checksum FROM rampart.schema_migrations",
                    logger: logger
                )
                for (version, checksum) in try rows.decode((Int, String).self) { applied[version] = checksum }
                return applied
            }
            for migration in migrations where applied[migration.version] != migration.checksum {
                return Readiness(ready: false, reason: "migrations are not current")
            }
            return Readiness(ready: true, reason: "ready")
        } catch {
            DatabaseErrors.log(error, "readiness check failed", level: .debug, logger: logger)
            return Readiness(ready: false, reason: "database unavailable")
        }
    }
}

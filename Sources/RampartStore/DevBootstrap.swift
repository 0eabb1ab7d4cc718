import Logging
import PostgresNIO
import RampartCore

/// The superuser steps of `rampart serve --dev` on its embedded cluster: the database and two
/// login roles mapped onto the group roles, as a DBA would create them (docs/operations.md).
public enum DevBootstrap {
    public static let serverRole = "rampart_dev_server"
    public static let adminRole = "rampart_dev_admin"

    public static func ensureDatabase(_ name: String, on connection: PostgresConnection, logger: Logger) async throws {
        do {
            let rows = try await connection.fetch(
                "SELECT count(*) FROM pg_database WHERE datname = \(name)",
                logger: logger
            )
            for count in try rows.decode(Int.self) where count == 0 {
                // CREATE DATABASE takes no bind parameters; the name is a fixed constant of --dev.
                try await connection.execute(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
            }
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    /// Run after migrations (which create the group roles). The role names are constants of this
    /// type, spliced in because DDL takes no bind parameters.
    public static func ensureLoginRoles(on connection: PostgresConnection, logger: Logger) async throws {
        do {
            try await connection.execute(
                """
                DO $$
                BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(unescaped: serverRole)') THEN
                        CREATE ROLE \(unescaped: serverRole) LOGIN IN ROLE rampart_app;
                    END IF;
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(unescaped: adminRole)') THEN
                        CREATE ROLE \(unescaped: adminRole) LOGIN IN ROLE rampart_admin;
                    END IF;
                END
                $$
                """,
                logger: logger
            )
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}

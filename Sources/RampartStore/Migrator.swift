import Foundation
import Logging
import PostgresNIO
import RampartCore

/// Applies `sql/` migrations in order, each file in one transaction, recorded with its checksum.
///
/// A session-level advisory lock makes concurrent runs safe: the second waits, then finds
/// nothing left to do. An applied file that was edited afterwards stops the run before anything
/// is applied.
public struct Migrator: Sendable {
    public enum State: String, Sendable {
        case applied, pending, edited
        /// Recorded in the database but unknown to this build.
        case unknown
    }

    public struct Entry: Sendable {
        public let version: Int
        public let name: String
        public let state: State
        public let appliedAt: Date?
    }

    /// Arbitrary but fixed: the advisory lock key every `rampart db migrate` takes.
    static let lockKey: Int64 = 0x7261_6D70_6172_74

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Each known and recorded migration with its state, in version order.
    public func status(on connection: PostgresConnection, logger: Logger) async throws -> [Entry] {
        let recorded = try await recordedMigrations(on: connection, logger: logger)
        var entries: [Entry] = migrations.map { migration in
            guard let row = recorded[migration.version] else {
                return Entry(version: migration.version, name: migration.name, state: .pending, appliedAt: nil)
            }
            let state: State = row.checksum == migration.checksum ? .applied : .edited
            return Entry(version: migration.version, name: migration.name, state: state, appliedAt: row.appliedAt)
        }
        let known = Set(migrations.map(\.version))
        for (version, row) in recorded where !known.contains(version) {
            entries.append(Entry(version: version, name: row.name, state: .unknown, appliedAt: row.appliedAt))
        }
        return entries.sorted { $0.version < $1.version }
    }

    /// Applies what is pending and returns the names of the files applied now.
    @discardableResult
    public func migrate(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        do {
            try await connection.execute("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        } catch {
            throw DatabaseErrors.map(error)
        }
        do {
            let applied = try await applyPending(on: connection, logger: logger)
            try await connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    private func applyPending(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let entries = try await status(on: connection, logger: logger)
        if let edited = entries.first(where: { $0.state == .edited }) {
            throw RampartError(
                .refused,
                "migration \(edited.name) was edited after it was applied (its checksum differs); "
                    + "restore the original file and put the change in a new migration"
            )
        }
        if let unknown = entries.first(where: { $0.state == .unknown }) {
            throw RampartError(
                .refused,
                "the database has migration \(unknown.name), which this build of rampart does not know; "
                    + "use the rampart that applied it"
            )
        }
        let pending = Set(entries.filter { $0.state == .pending }.map(\.version))
        var appliedNow: [String] = []
        for migration in migrations where pending.contains(migration.version) {
            try await apply(migration, on: connection, logger: logger)
            logger.info("applied migration", metadata: ["rampart.migration": "\(migration.name)"])
            appliedNow.append(migration.name)
        }
        return appliedNow
    }

    private func apply(_ migration: Migration, on connection: PostgresConnection, logger: Logger) async throws {
        do {
            try await connection.execute("BEGIN", logger: logger)
            for statement in SQLScript.statements(migration.sql) {
                try await connection.execute(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.execute(
                """
                INSERT INTO rampart.schema_migrations (version, name, checksum)
                VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                """,
                logger: logger
            )
            try await connection.execute("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.execute("ROLLBACK", logger: logger)
            let mapped = DatabaseErrors.map(error)
            logger.debug(
                "migration failed",
                metadata: ["rampart.migration": "\(migration.name)", "error": "\(String(reflecting: error))"]
            )
            throw RampartError(
                mapped.code == .unavailable ? .unavailable : .refused,
                "migration \(migration.name) failed and was rolled back: \(Self.serverMessage(error) ?? mapped.message)",
                detail: mapped.detail
            )
        }
    }

    private static func serverMessage(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.message]
    }

    private struct Recorded {
        let name: String
        let checksum: String
        let appliedAt: Date
    }

    private func recordedMigrations(on connection: PostgresConnection, logger: Logger) async throws -> [Int: Recorded] {
        do {
            let exists = try await connection.fetch(
                "SELECT to_regclass('rampart.schema_migrations') IS NOT NULL",
                logger: logger
            )
            var tableExists = false
            for (value) in try exists.decode(Bool.self) { tableExists = value }
            guard tableExists else { return [:] }
            let rows = try await connection.fetch(
                "SELECT version, name, checksum, applied_at FROM rampart.schema_migrations",
                logger: logger
            )
            var recorded: [Int: Recorded] = [:]
            for (version, name, checksum, appliedAt) in try rows.decode((Int, String, String, Date).self) {
                recorded[version] = Recorded(name: name, checksum: checksum, appliedAt: appliedAt)
            }
            return recorded
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}

import Foundation
import PostgresNIO
import RampartCore
import RampartStore
import Testing

@Suite(.enabled(if: TestDatabase.isConfigured))
struct DatabaseWallCheckTests {
    @Test func theAppRolePasses() async throws {
        let problems = try await TestDatabase.asApp { connection in
            try await DatabaseWallCheck.problems(on: connection, logger: TestDatabase.logger)
        }
        #expect(problems == [])
    }

    @Test func aSuperuserIsRefused() async throws {
        let problems = try await TestDatabase.asSuperuser { connection in
            try await DatabaseWallCheck.problems(on: connection, logger: TestDatabase.logger)
        }
        #expect(problems.contains { $0.hasSuffix("is a superuser") })
        #expect(problems.contains { $0.hasSuffix("can act as rampart_owner") })
    }

    @Test func theAdminRoleIsNotAServerRole() async throws {
        let problems = try await TestDatabase.asAdmin { connection in
            try await DatabaseWallCheck.problems(on: connection, logger: TestDatabase.logger)
        }
        #expect(problems.contains { $0.hasSuffix("is not a member of rampart_app") })
    }
}

@Suite(.enabled(if: TestDatabase.isConfigured))
struct MigratorTests {
    /// A database of its own, dropped afterwards, so these tests cannot disturb the others.
    private func withScratchDatabase(_ body: (DatabaseURL) async throws -> Void) async throws {
        let name = "rampart_mig_\(UInt32.random(in: 0...UInt32.max))"
        let server = try TestDatabase.url("TEST_POSTGRES_SUPERUSER_URL")
        try await server.withConnection(logger: TestDatabase.logger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: TestDatabase.logger)
        }
        let url = try DatabaseURL(
            parsing: "postgres://\(server.username)@\(server.host):\(server.port)/\(name)?sslmode=disable",
            key: "test"
        )
        do {
            try await body(url)
        } catch {
            try? await dropDatabase(name, server)
            throw error
        }
        try await dropDatabase(name, server)
    }

    private func dropDatabase(_ name: String, _ server: DatabaseURL) async throws {
        try await server.withConnection(logger: TestDatabase.logger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"),
                logger: TestDatabase.logger
            )
        }
    }

    @Test func migratingTwiceIsANoOp() async throws {
        try await withScratchDatabase { url in
            let migrator = Migrator(migrations: try MigrationCatalog.bundled())
            let first = try await url.withConnection(logger: TestDatabase.logger) { connection in
                try await migrator.migrate(on: connection, logger: TestDatabase.logger)
            }
            #expect(first == migrator.migrations.map(\.name))
            let second = try await url.withConnection(logger: TestDatabase.logger) { connection in
                try await migrator.migrate(on: connection, logger: TestDatabase.logger)
            }
            #expect(second == [])
            let states = try await url.withConnection(logger: TestDatabase.logger) { connection in
                try await migrator.status(on: connection, logger: TestDatabase.logger)
            }
            #expect(states.allSatisfy { $0.state == .applied })
        }
    }

    @Test func concurrentMigrationsApplyEachFileOnce() async throws {
        try await withScratchDatabase { url in
            let migrator = Migrator(migrations: try MigrationCatalog.bundled())
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await url.withConnection(logger: TestDatabase.logger) { connection in
                            try await migrator.migrate(on: connection, logger: TestDatabase.logger)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append(contentsOf: $1) }
            }
            #expect(applied.sorted() == migrator.migrations.map(\.name).sorted())
        }
    }

    @Test func anEditedAppliedMigrationIsRefused() async throws {
        try await withScratchDatabase { url in
            let original = try MigrationCatalog.bundled()
            try await url.withConnection(logger: TestDatabase.logger) { connection in
                try await Migrator(migrations: original).migrate(on: connection, logger: TestDatabase.logger)
            }
            let last = try #require(original.last)
            let edited = try Migration(name: last.name, contents: Data((last.sql + "\n-- edited\n").utf8))
            let tampered = Migrator(migrations: original.dropLast() + [edited])
            let error = await #expect(throws: RampartError.self) {
                try await url.withConnection(logger: TestDatabase.logger) { connection in
                    try await tampered.migrate(on: connection, logger: TestDatabase.logger)
                }
            }
            #expect(error?.message.contains("\(last.name) was edited after it was applied") == true)
        }
    }
}

import Foundation
import PostgresNIO
import RampartCore
import RampartStore
import Testing

@Suite(.enabled(if: TestDatabase.isConfigured), .serialized)
struct DatabaseWallCheckTests {
    /// Runs `setup` as the superuser, the check as `role` (a login of rampart_app made for the test,
    /// so other suites' roles never change under them), then `teardown`.
    func problems(after setup: String, teardown: String, as role: String? = nil) async throws -> [String] {
        try await superuser(setup)
        do {
            let found: [String]
            if let role {
                let app = try TestDatabase.url("TEST_DATABASE_URL")
                found = try await DatabaseURL(
                    parsing: "postgres://\(role)@\(app.host):\(app.port)/\(app.database)?sslmode=disable",
                    key: "test"
                ).withConnection(logger: TestDatabase.logger) { connection in
                    try await DatabaseWallCheck.problems(on: connection, logger: TestDatabase.logger)
                }
            } else {
                found = try await TestDatabase.asApp { connection in
                    try await DatabaseWallCheck.problems(on: connection, logger: TestDatabase.logger)
                }
            }
            try await superuser(teardown)
            return found
        } catch {
            try? await superuser(teardown)
            throw error
        }
    }

    /// Runs each `;`-separated statement of `script` as the superuser.
    func superuser(_ script: String) async throws {
        try await TestDatabase.asSuperuser { connection in
            for statement in script.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                try await TestDatabase.run(PostgresQuery(unsafeSQL: String(statement)), on: connection)
            }
        }
    }

    @Test func membershipOfTheAdminRoleThroughAnotherRoleIsRefused() async throws {
        let found = try await problems(
            after: """
                CREATE ROLE wall_bridge; GRANT rampart_admin TO wall_bridge;
                CREATE ROLE wall_probe LOGIN IN ROLE rampart_app, wall_bridge
                """,
            teardown: "DROP ROLE IF EXISTS wall_probe; DROP ROLE IF EXISTS wall_bridge",
            as: "wall_probe"
        )
        #expect(found.contains { $0.hasSuffix("is a member of rampart_admin") }, "\(found)")
    }

    @Test func aWideningPolicyAWeakenedPolicyAndATableOutsideTheWallAreRefused() async throws {
        let found = try await problems(
            after: """
                CREATE TABLE rampart.wall_open (tenant_id text PRIMARY KEY);
                ALTER TABLE rampart.wall_open ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
                CREATE POLICY tenant_isolation ON rampart.wall_open
                    USING (tenant_id = (SELECT nullif(current_setting('rampart.tenant_id', true), '')))
                    WITH CHECK (tenant_id = (SELECT nullif(current_setting('rampart.tenant_id', true), '')));
                CREATE POLICY peek ON rampart.wall_open FOR SELECT TO PUBLIC USING (true);
                CREATE TABLE rampart.wall_weak (tenant_id text PRIMARY KEY);
                ALTER TABLE rampart.wall_weak ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
                CREATE POLICY tenant_isolation ON rampart.wall_weak
                    USING (tenant_id = (SELECT nullif(current_setting('rampart.tenant_id', true), '')) OR true);
                CREATE TABLE rampart.wall_plain (secret text);
                """,
            teardown: "DROP TABLE rampart.wall_open, rampart.wall_weak, rampart.wall_plain"
        )
        #expect(found.contains("tenant table rampart.wall_open has permissive policy peek, which applies to this role"))
        #expect(found.contains("the tenant_isolation policy of rampart.wall_weak is not the one the migrations wrote"))
        #expect(found.contains { $0.hasPrefix("table rampart.wall_plain is neither a tenant table") }, "\(found)")
        #expect(!found.contains { $0.contains("rampart.documents") })
    }

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

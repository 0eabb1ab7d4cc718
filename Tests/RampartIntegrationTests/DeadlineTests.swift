import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore
import Testing

/// The request deadline as the store keeps it: waits for a connection and statements end by the
/// deadline, the work is rolled back, and the connection goes back to the pool clean.
@Suite(.enabled(if: TestDatabase.isConfigured), .serialized) struct DeadlineTests {
    func withDatabase(connections: Int = 2, _ body: (Database) async throws -> Void) async throws {
        try await TestDatabase.withPool(connections: connections, body)
    }

    @Test func aTransactionPastItsDeadlineIsStoppedByTheDatabaseAndLeavesNothing() async throws {
        let tenant = try await TestDatabase.newTenant("deadline", documents: 1)
        try await TestDatabase.asApp { holder in
            // Another session holds the document's row lock.
            try await TestDatabase.run("BEGIN", on: holder)
            try await TestDatabase.run("SELECT set_config('rampart.tenant_id', \(tenant.rawValue), true)", on: holder)
            try await TestDatabase.run(
                "SELECT 1 FROM rampart.documents WHERE tenant_id = \(tenant.rawValue) FOR UPDATE",
                on: holder
            )
            let started = ContinuousClock.now
            let outcome: RampartError? = try await TestDatabase.asApp { writer in
                do {
                    _ = try await writer.withTenantTransaction(
                        tenant,
                        until: .now + .seconds(1),
                        logger: TestDatabase.logger
                    ) {
                        connection in
                        try await TestDatabase.run(
                            """
                            UPDATE rampart.documents SET body = '{"text": "late"}'
                            WHERE tenant_id = \(tenant.rawValue)
                            """,
                            on: connection
                        )
                    }
                    return nil
                } catch {
                    return DatabaseErrors.map(error)
                }
            }
            #expect(outcome?.code == .unavailable)
            #expect(ContinuousClock.now - started < .seconds(2))
            try await TestDatabase.run("ROLLBACK", on: holder)
        }
        let unchanged = try await TestDatabase.asSuperuser { connection in
            try await TestDatabase.count(
                "SELECT count(*) FROM rampart.documents WHERE tenant_id = \(tenant.rawValue) AND body->>'text' = 'late'",
                on: connection
            )
        }
        #expect(unchanged == 0)
    }

    @Test func waitingForAConnectionEndsAtTheDeadline() async throws {
        try await withDatabase { database in
            let release = AsyncStream<Void>.makeStream()
            try await withThrowingTaskGroup { group in
                for _ in 0..<2 {  // both connections of the pool busy
                    group.addTask {
                        try await database.withConnection(until: .now + .seconds(30)) { _ in
                            for await _ in release.stream { break }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
                let started = ContinuousClock.now
                await #expect(throws: RampartError.self) {
                    try await database.withConnection(until: .now + .milliseconds(500)) { _ in }
                }
                #expect(ContinuousClock.now - started < .seconds(1))
                release.continuation.finish()
                try await group.waitForAll()
            }
        }
    }

    @Test func aConnectionBackFromAStoppedTransactionIsClean() async throws {
        let tenant = try await TestDatabase.newTenant("clean", documents: 1)
        try await withDatabase(connections: 1) { database in
            try await TestDatabase.asApp { holder in
                try await TestDatabase.run("BEGIN", on: holder)
                try await TestDatabase.run(
                    "SELECT set_config('rampart.tenant_id', \(tenant.rawValue), true)",
                    on: holder
                )
                try await TestDatabase.run(
                    "SELECT 1 FROM rampart.documents WHERE tenant_id = \(tenant.rawValue) FOR UPDATE",
                    on: holder
                )
                await #expect(throws: (any Error).self) {
                    try await database.withConnection(until: .now + .milliseconds(500)) { connection in
                        try await connection.withTenantTransaction(
                            tenant,
                            until: .now + .milliseconds(500),
                            logger: TestDatabase.logger
                        ) {
                            try await TestDatabase.run("UPDATE rampart.documents SET version = version + 1", on: $0)
                        }
                    }
                }
                try await TestDatabase.run("ROLLBACK", on: holder)
            }
            // The pool's one connection: not inside a transaction block, no tenant, no leftover timeout.
            let (outsideABlock, tenantSetting, lockTimeout) = try await database.withConnection(
                until: .now + .seconds(5)
            ) { connection in
                let savepoint = await TestDatabase.sqlState(of: "SAVEPOINT probe", on: connection)
                let settings = try await connection.fetch(
                    "SELECT coalesce(current_setting('rampart.tenant_id', true), ''), current_setting('lock_timeout')",
                    logger: TestDatabase.logger
                ).decode((String, String).self).first
                return (savepoint == "25P01", settings?.0, settings?.1)
            }
            #expect(outsideABlock && tenantSetting == "" && lockTimeout == "0")
        }
    }
}

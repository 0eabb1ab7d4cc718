import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore
import Testing

@testable import RampartServer

/// The batched audit path must survive events the database refuses: one bad event never holds
/// the others back, and it is written as a placeholder, never dropped silently.
@Suite(.enabled(if: TestDatabase.isConfigured), .serialized) struct AuditFlushTests {
    /// Runs `body` with a pool on the server's role, as `rampart serve` has one.
    func withDatabase(_ body: (Database) async throws -> Void) async throws {
        let url = try TestDatabase.url("TEST_DATABASE_URL")
        let client = PostgresClient(
            configuration: url.clientConfiguration(maxConnections: 2),
            backgroundLogger: TestDatabase.logger
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await body(Database(client: client))
            group.cancelAll()
        }
    }

    func events(requestIDs: [String]) async throws -> [String: (method: String?, reason: String)] {
        try await TestDatabase.asSuperuser { connection in
            var found: [String: (String?, String)] = [:]
            let rows = try await connection.query(
                "SELECT request_id, method, reason FROM rampart.audit_events WHERE request_id = ANY(\(requestIDs))",
                logger: TestDatabase.logger
            )
            for try await (id, method, reason) in rows.decode((String, String?, String).self) {
                found[id] = (method, reason)
            }
            return found
        }
    }

    /// A trigger that refuses the events of one method, as a database constraint might.
    func refusing(method marker: String, _ body: () async throws -> Void) async throws {
        let name = "rampart.test_refuse_\(marker.filter(\.isLetter).lowercased())"
        try await TestDatabase.asSuperuser { connection in
            try await TestDatabase.run(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE FUNCTION \(name)() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                            IF NEW.method = '\(marker)' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '23514'; END IF;
                            RETURN NEW;
                        END $$
                        """
                ),
                on: connection
            )
            try await TestDatabase.run(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE TRIGGER test_refuse BEFORE INSERT ON rampart.audit_events
                        FOR EACH ROW EXECUTE FUNCTION \(name)()
                        """
                ),
                on: connection
            )
        }
        do {
            try await body()
        } catch {
            try await drop(name)
            throw error
        }
        try await drop(name)
    }

    func drop(_ function: String) async throws {
        try await TestDatabase.asSuperuser { connection in
            try await TestDatabase.run(PostgresQuery(unsafeSQL: "DROP FUNCTION \(function)() CASCADE"), on: connection)
        }
    }

    @Test func aRefusedEventBecomesAPlaceholderAndTheRestArrive() async throws {
        let marker = "poison\(UUID().uuidString.prefix(8).filter(\.isLetter))"
        let ids = (0..<7).map { "\(marker)-\($0)" }
        try await refusing(method: marker) {
            try await withDatabase { database in
                let audit = AuditActor(database: database, stream: nil, logger: TestDatabase.logger)
                for (index, id) in ids.enumerated() {
                    await audit.record(
                        AuditEvent(
                            tenant: "-",
                            requestID: id,
                            method: index == 3 ? marker : "tools/list\u{0}",
                            decision: .deny,
                            layer: .sanitize,
                            reason: "hostile \u{0} input"
                        )
                    )
                }
                await audit.flush()
            }
        }
        let stored = try await events(requestIDs: ids)
        #expect(stored.count == 7)
        for (index, id) in ids.enumerated() {
            if index == 3 {
                #expect(stored[id]?.method == nil && stored[id]?.reason.contains("placeholder") == true)
            } else {
                #expect(stored[id]?.method == "tools/list\u{FFFD}" && stored[id]?.reason == "hostile \u{FFFD} input")
            }
        }
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
}

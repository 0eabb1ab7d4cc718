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
    func withDatabase(_ body: (Database) async throws -> Void) async throws {
        try await TestDatabase.withPool(body)
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
                let audit = AuditActor(
                    log: AuditLog(database: database, logger: TestDatabase.logger),
                    stream: nil,
                    logger: TestDatabase.logger
                )
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
}

import ArgumentParser
import Foundation
import RampartCore
import RampartStore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify, follow and export the audit trail (RAMPART_ADMIN_DATABASE_URL).",
        subcommands: [Verify.self, Tail.self, Export.self]
    )

    /// A tenant id, or `-`: the events of requests that never showed a known tenant.
    static func tenantFilter(_ raw: String) throws(RampartError) -> String {
        raw == AuditEvent.unauthenticatedTenant ? raw : try TenantID(validating: raw).rawValue
    }

    /// One event: a JSON line with --json (and always for export), else a short human line.
    static func printEvent(_ record: AuditRecord, json: Bool) {
        if json {
            print(record.event.jsonText)
            return
        }
        let field = { (key: String) in record.event[key]?.stringValue ?? "-" }
        print(
            [
                field("at"), field("tenant"), field("decision"), field("layer"), field("method"), field("tool"),
                field("resource"), field("reason"),
            ].joined(separator: "  ")
        )
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal pending events, then check the hash chain over every event (exit 1 naming each problem)."
        )
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let result = try await connection.withConnection { connection, logger in
                while try await AuditStore.seal(max: 10_000, on: connection, logger: logger) > 0 {}
                return try await AuditStore.verify(on: connection, logger: logger)
            }
            if connection.json {
                let report: JSONValue = [
                    "verified": .int(result.verified), "pending": .int(result.pending), "head": .string(result.head),
                    "problems": .array(result.problems.map(JSONValue.string)),
                ]
                print(report.jsonText)
            } else {
                result.problems.forEach { print($0) }
            }
            guard result.problems.isEmpty else {
                throw RampartError(
                    .refused,
                    "audit chain broken: \(result.problems.count) problem(s), first: \(result.problems[0])"
                )
            }
            if !connection.json {
                print("verified \(result.verified) events; chain head \(result.head); \(result.pending) pending")
            }
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest events; --follow keeps printing.")
        @Option(help: "Only this tenant's events (- for unauthenticated requests).") var tenant: String?
        @Option(name: .customShort("n"), help: "How many of the newest events.") var count: Int = 20
        @Flag(help: "Keep printing new events until interrupted.") var follow = false
        @OptionGroup var connection: AdminConnectionOptions

        func validate() throws {
            guard (1...10_000).contains(count) else { throw ValidationError("-n must be 1 to 10000") }
        }

        func run() async throws {
            let tenantID = try tenant.map(AuditCommand.tenantFilter)
            try await connection.withConnection { connection, logger in
                var last: Int64 = 0
                var records = try await AuditStore.events(
                    tenant: tenantID,
                    since: nil,
                    after: 0,
                    limit: count,
                    newest: true,
                    on: connection,
                    logger: logger
                )
                while true {
                    for record in records {
                        AuditCommand.printEvent(record, json: self.connection.json)
                        last = record.eventID
                    }
                    guard follow else { return }
                    fflush(nil)
                    try await Task.sleep(for: .milliseconds(500))
                    records = try await AuditStore.events(
                        tenant: tenantID,
                        since: nil,
                        after: last,
                        limit: 1000,
                        on: connection,
                        logger: logger
                    )
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every event (or those since --since) as JSON lines, oldest first."
        )
        @Option(help: "ISO 8601 time, e.g. 2026-11-25T00:00:00Z.") var since: String?
        @Option(help: "Only this tenant's events (- for unauthenticated requests).") var tenant: String?
        @OptionGroup var connection: AdminConnectionOptions

        func run() async throws {
            let tenantID = try tenant.map(AuditCommand.tenantFilter)
            var start: Date?
            if let since {
                guard let parsed = try? Date(since, strategy: .iso8601) else {
                    throw RampartError.invalidArgument("invalid --since \(since.debugDescription): expected ISO 8601")
                }
                start = parsed
            }
            try await connection.withConnection { connection, logger in
                var last: Int64 = 0
                while true {
                    let records = try await AuditStore.events(
                        tenant: tenantID,
                        since: start,
                        after: last,
                        limit: 1000,
                        on: connection,
                        logger: logger
                    )
                    for record in records {
                        AuditCommand.printEvent(record, json: true)
                        last = record.eventID
                    }
                    if records.count < 1000 { return }
                }
            }
        }
    }
}

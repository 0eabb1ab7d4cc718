import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// Audit events that are not part of a data transaction (refusals, listings, discovery) are
/// batched here and written at least every `AuditService.interval`, and on shutdown. Events
/// already committed with their effect only pass through for the JSON-lines stream.
actor AuditActor {
    /// Past this many unwritten events (the database is down), new ones are counted and dropped
    /// rather than growing without bound; data calls fail closed meanwhile anyway.
    static let maxBuffered = 100_000

    private let client: PostgresClient
    private let stream: AuditStream?
    private let logger: Logger
    private var buffered: [AuditEvent] = []
    private(set) var dropped = 0

    init(client: PostgresClient, stream: AuditStream?, logger: Logger) {
        self.client = client
        self.stream = stream
        self.logger = logger
    }

    /// Queues an event for the next flush.
    func record(_ event: AuditEvent) {
        RampartMetrics.audit(event)
        guard buffered.count < Self.maxBuffered else {
            dropped += 1
            RampartMetrics.auditDropped()
            return
        }
        buffered.append(event)
    }

    /// Events that committed with their effect: only the stream and the metrics still need them.
    func committed(_ events: [AuditEvent]) {
        events.forEach(RampartMetrics.audit)
        stream?.write(events)
    }

    var bufferedCount: Int { buffered.count }

    /// Writes every queued event in one transaction; on failure they stay queued for the next try.
    func flush() async {
        guard !buffered.isEmpty else { return }
        let batch = buffered
        buffered.removeAll(keepingCapacity: true)
        do {
            try await client.withMeteredConnection { connection in
                try await AuditStore.insertBatch(batch, on: connection, logger: logger)
            }
            stream?.write(batch)
        } catch {
            logger.error(
                "audit flush failed; events kept for the next try",
                metadata: [
                    "rampart.events": "\(batch.count)", "error": "\(DatabaseErrors.map(error).debugDescription)",
                ]
            )
            buffered = Array((batch + buffered).prefix(Self.maxBuffered))
        }
    }
}

/// The JSON-lines audit stream (`RAMPART_AUDIT_LOG`): a file, or stderr for `-`.
final class AuditStream: Sendable {
    private let handle: FileHandle

    init(path: String) throws {
        if path == "-" {
            handle = .standardError
            return
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            else { throw RampartError.configuration(key: "RAMPART_AUDIT_LOG", "cannot create the file") }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw RampartError.configuration(key: "RAMPART_AUDIT_LOG", "cannot open the file for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func write(_ events: [AuditEvent]) {
        guard !events.isEmpty else { return }
        let timestamp = Timestamp.iso8601(Date())
        let text = events.map { $0.jsonLine(at: timestamp) + "\n" }.joined()
        handle.write(Data(text.utf8))
    }
}

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

    init(client: PostgresClient, stream: AuditStream?, logger: Logger) {
        self.client = client
        self.stream = stream
        self.logger = logger
    }

    /// Queues an event for the next flush.
    func record(_ event: AuditEvent) {
        RampartMetrics.audit(event)
        guard buffered.count < Self.maxBuffered else {
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

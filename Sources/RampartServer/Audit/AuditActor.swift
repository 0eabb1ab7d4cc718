import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// Audit events that are not part of a data transaction (refusals, listings, discovery) are
/// batched here and written at least every `AuditService.interval`, and on shutdown. Events
/// already committed with their effect only pass through for the JSON-lines stream.
///
/// One event can never hold the others back: every event is made storable as it is queued, and
/// a batch the database refuses for its content is written in halves, down to the single event,
/// which is then written as a placeholder that says so (`rampart_audit_placeholders_total`).
actor AuditActor {
    /// Past this many unwritten events (the database is down), new ones are counted and dropped
    /// rather than growing without bound; data calls fail closed meanwhile anyway.
    static let maxBuffered = 100_000
    /// How long one write may wait for the database.
    static let writeTimeout: Duration = .seconds(5)

    private let log: AuditLog
    private let stream: AuditStream?
    private let logger: Logger
    private var buffered: [AuditEvent] = []

    init(log: AuditLog, stream: AuditStream?, logger: Logger) {
        self.log = log
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
        buffered.append(event.storable())
    }

    /// Events that committed with their effect: only the stream and the metrics still need them
    /// (neither is the actor's state, so no hop to it).
    nonisolated func committed(_ events: [AuditEvent]) {
        events.forEach(RampartMetrics.audit)
        stream?.write(events.map { $0.storable() })
    }

    /// Writes every queued event; what the database could not take for want of a connection
    /// stays queued for the next try.
    func flush() async {
        guard !buffered.isEmpty else { return }
        let batch = buffered
        buffered.removeAll(keepingCapacity: true)
        let unwritten = await write(batch)
        if !unwritten.isEmpty {
            buffered = Array((unwritten + buffered).prefix(Self.maxBuffered))
        }
    }

    /// Writes `events` and returns the ones left for the next try (the database was unreachable).
    private func write(_ events: [AuditEvent]) async -> [AuditEvent] {
        do {
            try await insert(events)
            stream?.write(events)
            return []
        } catch {
            guard DatabaseErrors.map(error).code != .unavailable else {
                DatabaseErrors.log(
                    error,
                    "audit flush failed; events kept for the next try",
                    level: .warning,
                    logger: logger,
                    metadata: ["rampart.events": "\(events.count)"]
                )
                return events
            }
            guard events.count > 1 else { return await writePlaceholder(for: events[0], refusal: error) }
            let middle = events.count / 2
            let unwritten = await write(Array(events[..<middle]))
            guard unwritten.isEmpty else { return unwritten + events[middle...] }
            return await write(Array(events[middle...]))
        }
    }

    private func writePlaceholder(for event: AuditEvent, refusal: any Error) async -> [AuditEvent] {
        DatabaseErrors.log(
            refusal,
            "the database refused an audit event; writing a placeholder",
            logger: logger,
            metadata: ["rampart.request_id": .string(event.requestID)]
        )
        let placeholder = event.placeholder()
        do {
            try await insert([placeholder])
            RampartMetrics.auditPlaceholder()
            stream?.write([placeholder])
            return []
        } catch {
            if DatabaseErrors.map(error).code == .unavailable { return [event] }
            DatabaseErrors.log(
                error,
                "the database refused an audit placeholder; the event is lost",
                level: .critical,
                logger: logger,
                metadata: ["rampart.request_id": .string(event.requestID)]
            )
            RampartMetrics.auditDropped()
            return []
        }
    }

    private func insert(_ events: [AuditEvent]) async throws {
        try await log.write(events, until: .now + Self.writeTimeout)
    }
}

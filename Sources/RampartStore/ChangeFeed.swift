import Foundation
import Logging
import PostgresNIO
import RampartCore
import Synchronization

/// The `rampart_changes` notifications (admin changes, revocations, ended sessions) on a
/// connection of its own.
///
/// A subscription is trusted only once it has heard its own probe: a notification it sends
/// itself, which PostgreSQL delivers to the listening session. The probe repeats, so a
/// subscription that silently stopped delivering is given up within `probeInterval` +
/// `probeWait`. Behind a transaction-mode pooler the probe fails only when the pooler happens to
/// run it on another server session than the LISTEN's: that is why such a deployment must set
/// RAMPART_CHANGES_DATABASE_URL (docs/operations.md "Behind PgBouncer").
public enum ChangeFeed {
    public static let channel = "rampart_changes"
    static let probePrefix = "probe:"
    static let probeWait: Duration = .seconds(2)
    static let probeInterval: Duration = .seconds(10)

    /// The subscription never heard its own probe.
    public struct NotDelivered: Error, CustomStringConvertible {
        public var description: String {
            "change notifications are not delivered on this connection (behind a transaction-mode pooler? "
                + "set RAMPART_CHANGES_DATABASE_URL to PostgreSQL or a session-mode pool)"
        }
    }

    struct ConnectionLost: Error {}

    final class ProbeState: Sendable {
        let state = Mutex(Probes())
    }

    /// This subscription's own probes, told apart from other processes'.
    struct Probes {
        private var expected: String?
        private(set) var arrived = false
        private var confirmed = false

        mutating func expect(_ probe: String) {
            expected = probe
            arrived = false
        }

        /// Whether `payload` is the awaited probe heard for the first time on this subscription.
        mutating func heard(_ payload: String) -> Bool {
            guard payload == expected else { return false }
            arrived = true
            defer { confirmed = true }
            return !confirmed
        }
    }

    /// Listens until the task is cancelled or the subscription fails (then it throws);
    /// `listening` runs once the subscription has heard its first probe, `change` for every
    /// payload that is not a probe (of this process or another).
    public static func listen(
        at url: DatabaseURL,
        logger: Logger,
        listening: @escaping @Sendable () async -> Void,
        change: @escaping @Sendable (String) async -> Void
    ) async throws {
        try await url.withConnection(logger: logger) { connection in
            try await connection.listen(on: channel) { notifications in
                let probes = ProbeState()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await notification in notifications {
                            let payload = notification.payload
                            guard payload.hasPrefix(probePrefix) else {
                                await change(payload)
                                continue
                            }
                            if probes.state.withLock({ $0.heard(payload) }) { await listening() }
                        }
                        throw ConnectionLost()
                    }
                    group.addTask {
                        while true {
                            let probe = probePrefix + UUID().uuidString
                            probes.state.withLock { $0.expect(probe) }
                            try await connection.query("SELECT pg_notify(\(channel), \(probe))", logger: logger)
                            try await Task.sleep(for: probeWait)
                            guard probes.state.withLock({ $0.arrived }) else { throw NotDelivered() }
                            try await Task.sleep(for: probeInterval)
                        }
                    }
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        }
    }
}

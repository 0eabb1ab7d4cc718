import Logging
import Metrics
import NIOCore
import PostgresNIO
import RampartCore
import Synchronization

/// The server's connection pool, leased only within a deadline (CONTRACT.md §13: every request
/// is answered within its deadline whatever the database does).
///
/// - Waiting for a connection stops at the deadline: nothing was sent, so nothing happened.
/// - Transactions started on the lease set `statement_timeout` and `lock_timeout` from the
///   deadline (`withTenantTransaction(_:until:)`), so the database itself stops the work in time
///   and rolls it back.
/// - If the database has not answered `grace` after the deadline (a dead host, a partition), the
///   connection is closed: the call fails at once and the connection is never reused.
public struct Database: Sendable {
    public static let grace: Duration = .milliseconds(500)

    private let source: @Sendable () -> PostgresClient

    /// The pool leases come from (a renewable pool's current one).
    public var client: PostgresClient { source() }

    /// A fixed pool, run by the caller.
    public init(client: PostgresClient) {
        source = { client }
    }

    /// A pool renewed after outages (`RenewablePool`), run by its `PoolService`.
    public init(pool: RenewablePool) {
        source = { pool.client }
    }

    public func withConnection<Result: Sendable>(
        until deadline: ContinuousClock.Instant,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let lease = Lease()
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            let client = client
            group.addTask {
                try await client.withConnection { connection in
                    guard lease.begin(on: connection) else { throw CancellationError() }
                    PoolGauge.shared.lease()
                    defer {
                        PoolGauge.shared.release()
                        lease.finish()
                    }
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(until: deadline)
                guard let running = lease.stopWaiting() else { return nil }
                try await Task.sleep(until: deadline + Self.grace)
                // Not awaited: closing fails the call's statements at once, which ends the body.
                if lease.isRunning { _ = running.close() as EventLoopFuture<Void> }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
                // The timer ended: still waiting for a connection means the deadline passed.
                if !lease.hasBegun { throw RampartError(.unavailable, "database unavailable: no connection in time") }
            }
            throw RampartError(.unavailable, "database unavailable")
        }
    }

    /// Where one lease stands: the timer and the lease race, and exactly one of "the timer gave
    /// up waiting" and "the connection was handed over" wins.
    private final class Lease: Sendable {
        private enum Phase {
            case waiting, running(PostgresConnection), finished, abandoned
        }
        private let phase = Mutex<Phase>(.waiting)

        func begin(on connection: PostgresConnection) -> Bool {
            phase.withLock { phase in
                guard case .waiting = phase else { return false }
                phase = .running(connection)
                return true
            }
        }

        func finish() { phase.withLock { $0 = .finished } }

        /// At the deadline: abandons a wait that has not begun (nil), else the connection in use.
        func stopWaiting() -> PostgresConnection? {
            phase.withLock { phase in
                switch phase {
                case .waiting:
                    phase = .abandoned
                    return nil
                case .running(let connection): return connection
                case .finished, .abandoned: return nil
                }
            }
        }

        var hasBegun: Bool {
            phase.withLock { phase in
                if case .abandoned = phase { return false }
                return true
            }
        }

        var isRunning: Bool {
            phase.withLock { phase in
                if case .running = phase { return true }
                return false
            }
        }
    }
}

/// Connections of the pool in use, for the `rampart_db_connections_in_use` gauge.
final class PoolGauge: Sendable {
    static let shared = PoolGauge()
    private let inUse = Atomic<Int>(0)

    func lease() {
        Gauge(label: "rampart_db_connections_in_use").record(inUse.add(1, ordering: .relaxed).newValue)
    }

    func release() {
        Gauge(label: "rampart_db_connections_in_use").record(inUse.subtract(1, ordering: .relaxed).newValue)
    }
}

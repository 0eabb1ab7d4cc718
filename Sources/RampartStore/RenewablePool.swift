import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The connection pool behind `Database`, replaced by a fresh one when the database comes back
/// after an outage. postgres-nio backs a failing connection slot off by 100 ms · 1.25ⁿ up to 60 s,
/// so after an outage of a minute the old pool would not try again for tens of seconds; a fresh
/// pool connects on the next call. The old pool keeps serving the leases it handed out and is
/// shut down `retireAfter` later, past every request's deadline.
public final class RenewablePool: Sendable {
    static let retireAfter: Duration = .seconds(10)

    private let make: @Sendable () -> PostgresClient
    private let logger: Logger
    private struct Running {
        var client: PostgresClient
        var runs: Task<Void, Never>?
        var retiring: [Task<Void, Never>] = []
        var stopped = false
    }
    private let state: Mutex<Running>

    public init(logger: Logger, make: @escaping @Sendable () -> PostgresClient) {
        self.make = make
        self.logger = logger
        state = Mutex(Running(client: make()))
    }

    /// The pool leases come from now.
    public var client: PostgresClient { state.withLock { $0.client } }

    /// Swaps in a fresh pool (when the database is reachable again after connections failed).
    public func renew() {
        let fresh = make()
        let runs = Self.run(fresh)
        let stale = state.withLock { state -> Task<Void, Never>? in
            guard !state.stopped, state.runs != nil else { return nil }
            let old = state.runs
            state.client = fresh
            state.runs = runs
            return old
        }
        guard let stale else {
            runs.cancel()
            return
        }
        logger.info("database reachable again: connection pool renewed")
        let retiring = Task {
            try? await Task.sleep(for: Self.retireAfter)
            stale.cancel()
            await stale.value
        }
        state.withLock { $0.retiring.append(retiring) }
    }

    /// Runs the pools until graceful shutdown (the pool service is the last to stop), then shuts
    /// every one down.
    func runUntilShutdown() async {
        state.withLock { state in state.runs = Self.run(state.client) }
        try? await gracefulShutdown()
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.stopped = true
            return [state.runs].compactMap { $0 } + state.retiring
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    // An unstructured task per pool: a pool's run ends only by cancellation, and each must be
    // ended on its own while the others go on.
    private static func run(_ client: PostgresClient) -> Task<Void, Never> {
        Task { await client.run() }
    }
}

/// Runs `RenewablePool` in the service group.
public struct PoolService: Service {
    let pool: RenewablePool

    public init(pool: RenewablePool) {
        self.pool = pool
    }

    public func run() async {
        await pool.runUntilShutdown()
    }
}

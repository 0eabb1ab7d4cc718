import Logging
import PostgresNIO
import RampartCore

extension PostgresConnection {
    /// Runs `body` in one transaction with `rampart.tenant_id` set transaction-locally, so every
    /// statement inside sees only `tenant`'s rows (RLS) and nothing leaks into the next
    /// transaction on the same (possibly pooled) connection.
    ///
    /// With a `deadline`, the same statement sets `statement_timeout` and `lock_timeout` to the
    /// time left, transaction-locally: a statement still running or waiting for a lock then is
    /// cancelled by the database and the transaction rolls back, so a call answered "deadline
    /// passed" has had no effect.
    public func withTenantTransaction<Result: Sendable>(
        _ tenant: TenantID,
        until deadline: ContinuousClock.Instant? = nil,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withTransaction(logger: logger) { connection in
            let timeout = deadline.map { String(Self.milliseconds(until: $0)) }
            try await connection.execute(
                """
                SELECT set_config('rampart.tenant_id', \(tenant.rawValue), true),
                       set_config('statement_timeout', coalesce(\(timeout), current_setting('statement_timeout')), true),
                       set_config('lock_timeout', coalesce(\(timeout), current_setting('lock_timeout')), true)
                """,
                logger: logger
            )
            return try await body(connection)
        }
    }

    /// BEGIN, `body`, COMMIT — or ROLLBACK on any error. A connection whose ROLLBACK fails is
    /// closed, so the pool can never hand out a connection left inside a transaction.
    func withTransaction<Result: Sendable>(
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await execute("BEGIN", logger: logger)
        do {
            let result = try await body(self)
            try await execute("COMMIT", logger: logger)
            return result
        } catch {
            do {
                try await execute("ROLLBACK", logger: logger)
            } catch {
                logger.warning("rollback failed; closing the connection")
                try? await close()
            }
            throw error
        }
    }

    /// Time left until `deadline` as a PostgreSQL timeout, at least 1 ms (0 would mean "none").
    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int64 {
        let left = ContinuousClock.now.duration(to: deadline)
        let (seconds, attoseconds) = left.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

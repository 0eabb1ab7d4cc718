import Logging
import PostgresNIO
import RampartCore

/// One GCRA cell a call must pass: `perMinute` calls a minute, in bursts of at most that many.
public struct RateCell: Sendable, Equatable {
    /// What refuses, as CONTRACT.md §10 names it: tenant, user, conversation, resource, conversation_creation.
    public let limit: String
    /// The cell's key within the tenant.
    public let key: String
    public let perMinute: Int

    public init(limit: String, key: String, perMinute: Int) {
        self.limit = limit
        self.key = key
        self.perMinute = perMinute
    }
}

/// Which cell refused, and how long until it would admit the call.
public struct RateRefusal: Error, Sendable, Equatable {
    public let limit: String
    public let retryAfterMs: Int64
}

/// GCRA cells in PostgreSQL (reference/limits-budgets-audit.md §4.1). A limit of N per minute
/// admits a burst of N, then one call every 60/N seconds.
///
/// All cells of a call are decided together by `rampart.rate_admit` (sql/007): it creates
/// missing cells, locks the call's cells in key order (so concurrent callers cannot deadlock),
/// computes every cell's new theoretical arrival time from the database clock, and updates all of
/// them only if every one admits — a call refused by one cell charges none. Row locks serialise
/// each cell, so the result is exact across any number of processes.
public enum RateLimitStore {
    /// Runs alone (its own transaction, one round trip) or inside a transaction of `tenant`.
    public static func admit(
        _ cells: [RateCell],
        tenant: TenantID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> RateRefusal? {
        guard !cells.isEmpty else { return nil }
        let rows = try await connection.fetch(
            """
            SELECT cell, wait_ms FROM rampart.rate_admit(\(tenant.rawValue), \(cells.map(\.key))::text[],
                                                         \(cells.map { Int32(clamping: $0.perMinute) })::integer[])
            """,
            logger: logger
        )
        for (key, wait) in try rows.decode((String, Int64).self) {
            let limit = cells.first { $0.key == key }?.limit ?? "tenant"
            return RateRefusal(limit: limit, retryAfterMs: wait)
        }
        return nil
    }
}

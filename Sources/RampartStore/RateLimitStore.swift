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
/// All cells of a call are decided together in one statement: it locks the cells in key order
/// (so concurrent callers cannot deadlock), computes every cell's new theoretical arrival time
/// from the database clock, and updates all of them only if every one admits — a call refused by
/// one cell charges none. Row locks serialise each cell, so the result is exact across any number
/// of processes.
public enum RateLimitStore {
    public static func admit(
        _ cells: [RateCell],
        tenant: TenantID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> RateRefusal? {
        guard !cells.isEmpty else { return nil }
        let keys = cells.map(\.key)
        let limits = cells.map { Int32(clamping: $0.perMinute) }
        // Cells are created on first use; the locking statement below then finds every one.
        try await connection.execute(
            """
            INSERT INTO rampart.rate_limit_cells (tenant_id, cell, tat)
            SELECT \(tenant.rawValue), unnest(\(keys)::text[]), '-infinity'
            ON CONFLICT DO NOTHING
            """,
            logger: logger
        )
        let rows = try await connection.query(
            """
            WITH params AS (
                SELECT unnest(\(keys)::text[]) AS cell, unnest(\(limits)::integer[]) AS per_minute
            ), clock AS (
                SELECT clock_timestamp() AS now_t
            ), locked AS (
                SELECT c.cell, c.tat FROM rampart.rate_limit_cells c
                WHERE c.tenant_id = \(tenant.rawValue) AND c.cell = ANY(\(keys)::text[])
                ORDER BY c.cell
                FOR UPDATE
            ), decided AS (
                SELECT l.cell, p.per_minute, make_interval(secs => 60.0 / p.per_minute) AS t,
                       greatest(l.tat, clock.now_t) + make_interval(secs => 60.0 / p.per_minute) AS new_tat,
                       clock.now_t
                FROM locked l JOIN params p USING (cell), clock
            ), verdict AS (
                SELECT bool_and(new_tat - now_t <= t * per_minute) AS admitted FROM decided
            ), updated AS (
                UPDATE rampart.rate_limit_cells c SET tat = d.new_tat
                FROM decided d, verdict v
                WHERE v.admitted AND c.tenant_id = \(tenant.rawValue) AND c.cell = d.cell
                RETURNING c.cell
            )
            SELECT d.cell,
                   greatest(1, ceil(extract(epoch FROM d.new_tat - d.t * d.per_minute - d.now_t) * 1000))::bigint
            FROM decided d, verdict v
            WHERE NOT v.admitted AND d.new_tat - d.now_t > d.t * d.per_minute
              AND (SELECT count(*) FROM updated) = 0
            ORDER BY 2 DESC
            LIMIT 1
            """,
            logger: logger
        )
        for try await (key, wait) in rows.decode((String, Int64).self) {
            let limit = cells.first { $0.key == key }?.limit ?? "tenant"
            return RateRefusal(limit: limit, retryAfterMs: wait)
        }
        return nil
    }
}

import Logging
import PostgresNIO
import RampartCore

/// GCRA cells in PostgreSQL (reference/limits-budgets-audit.md §4.1): one statement per check,
/// exact across every process because the row lock serialises updates of one cell and the
/// database clock is the only clock. A limit of N per minute admits a burst of N, then one call
/// every 60/N seconds.
public enum RateLimitStore {
    /// Takes one call from `cell` of the current tenant transaction's tenant; nil when admitted,
    /// else how long until a call would be (in milliseconds).
    public static func admit(
        tenant: TenantID,
        cell: String,
        perMinute: Int,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64? {
        let admitted = try await connection.query(
            """
            WITH c AS (SELECT clock_timestamp() AS now_t, make_interval(secs => 60.0 / \(perMinute)) AS t)
            INSERT INTO rampart.rate_limit_cells AS r (tenant_id, cell, tat)
            SELECT \(tenant.rawValue), \(cell), c.now_t + c.t FROM c
            ON CONFLICT (tenant_id, cell) DO UPDATE
               SET tat = greatest(r.tat, excluded.tat - (SELECT t FROM c)) + (SELECT t FROM c)
             WHERE greatest(r.tat, excluded.tat - (SELECT t FROM c)) + (SELECT t FROM c)
                   - (excluded.tat - (SELECT t FROM c)) <= (SELECT t FROM c) * \(perMinute)
            RETURNING 1
            """,
            logger: logger
        )
        for try await _ in admitted { return nil }
        let waits = try await connection.query(
            """
            SELECT greatest(1, ceil(extract(epoch FROM tat + make_interval(secs => 60.0 / \(perMinute))
                                             - make_interval(secs => 60.0) - clock_timestamp()) * 1000))::bigint
            FROM rampart.rate_limit_cells WHERE tenant_id = \(tenant.rawValue) AND cell = \(cell)
            """,
            logger: logger
        )
        for try await wait in waits.decode(Int64.self) { return wait }
        return 1
    }
}

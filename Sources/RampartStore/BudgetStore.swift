import Foundation
import Logging
import PostgresNIO
import RampartCore

/// Which budget refused a call, and when it refills.
public struct BudgetRefusal: Error, Sendable, Equatable {
    /// `tenant` or `user`.
    public let budget: String
    /// The next UTC midnight.
    public let resetsAt: Date
}

/// Daily budgets in cost units (CONTRACT.md §10). A debit is one conditional statement per
/// budget — `spent + cost <= limit` is re-checked on the latest row version after any lock wait —
/// so concurrent calls from any number of processes never spend past a budget. Debits run in the
/// call's own transaction: they commit with the operation and its audit event, or not at all.
public enum BudgetStore {
    /// What `operation` costs this tenant: its override, else the default, else 0.
    public static func cost(
        of operation: String,
        tenant: TenantID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64 {
        let rows = try await connection.query(
            """
            SELECT coalesce(
                (SELECT units FROM rampart.operation_costs WHERE tenant_id = \(tenant.rawValue) AND operation = \(operation)),
                (SELECT units FROM rampart.default_costs WHERE operation = \(operation)), 0)::bigint
            """,
            logger: logger
        )
        for try await units in rows.decode(Int64.self) { return units }
        return 0
    }

    /// Debits `cost` from the tenant's budget and the user's (each where one is set; spending is
    /// recorded either way). Throws `BudgetRefusal` naming the first budget that cannot pay; the
    /// caller's transaction must then roll back, so nothing is charged.
    public static func debit(
        _ cost: Int64,
        tenant: TenantID,
        subject: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        guard cost > 0 else { return }
        for (budget, key) in [("tenant", ""), ("user", subject)] {
            let rows = try await connection.query(
                """
                WITH cap AS (
                    SELECT coalesce((SELECT daily_limit FROM rampart.budgets
                                     WHERE tenant_id = \(tenant.rawValue) AND subject = \(key)),
                                    9223372036854775807) AS daily_limit)
                INSERT INTO rampart.budget_usage AS u (tenant_id, subject, day, spent)
                SELECT \(tenant.rawValue), \(key), (now() AT TIME ZONE 'UTC')::date, \(cost)
                FROM cap WHERE \(cost) <= cap.daily_limit
                ON CONFLICT (tenant_id, subject, day) DO UPDATE SET spent = u.spent + excluded.spent
                WHERE u.spent + excluded.spent <= (SELECT daily_limit FROM cap)
                RETURNING u.spent
                """,
                logger: logger
            )
            var paid = false
            for try await _ in rows { paid = true }
            guard paid else {
                throw BudgetRefusal(budget: budget, resetsAt: try await nextUTCMidnight(on: connection, logger: logger))
            }
        }
    }

    static func nextUTCMidnight(on connection: PostgresConnection, logger: Logger) async throws -> Date {
        let rows = try await connection.query(
            "SELECT (((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC')",
            logger: logger
        )
        for try await midnight in rows.decode(Date.self) { return midnight }
        return Date()
    }
}

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

/// Daily budgets in cost units (CONTRACT.md §10). A debit is one conditional upsert per budget —
/// `spent + cost <= limit` is re-checked on the latest row version after any lock wait —
/// so concurrent calls from any number of processes never spend past a budget. Debits run in the
/// call's own transaction: they commit with the operation and its audit event, or not at all.
public enum BudgetStore {
    /// Charges a successful `operation` to the tenant's budget and the user's (each where one is
    /// set; spending is recorded either way) and returns its cost. Throws `BudgetRefusal` naming
    /// the budget that cannot pay; the caller's transaction must then roll back, so nothing is
    /// charged. One call of `rampart.charge` (sql/007).
    public static func charge(
        _ operation: String,
        tenant: TenantID,
        issuer: String,
        subject: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64 {
        let rows = try await connection.fetch(
            "SELECT cost, refused FROM rampart.charge(\(tenant.rawValue), \(issuer), \(subject), \(operation))",
            logger: logger
        )
        for (cost, refused) in try rows.decode((Int64, String?).self) {
            if let refused {
                throw BudgetRefusal(
                    budget: refused,
                    resetsAt: try await nextUTCMidnight(on: connection, logger: logger)
                )
            }
            return cost
        }
        throw RampartError.internal(detail: "charge returned no row")
    }

    static func nextUTCMidnight(on connection: PostgresConnection, logger: Logger) async throws -> Date {
        let rows = try await connection.fetch(
            "SELECT (((now() AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC')",
            logger: logger
        )
        for midnight in try rows.decode(Date.self) { return midnight }
        return Date()
    }
}

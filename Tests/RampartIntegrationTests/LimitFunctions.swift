import PostgresNIO
import RampartCore
import RampartStore

/// One GCRA cell a call must pass: `perMinute` calls a minute, in bursts of at most that many.
struct RateCell: Sendable, Equatable {
    let limit: String
    let key: String
    let perMinute: Int
}

/// Which cell refused, and how long until it would admit the call.
struct RateRefusal: Sendable, Equatable {
    let limit: String
    let retryAfterMs: Int64
}

/// The SQL functions the call functions take their limits and budgets from (sql/007), called
/// directly on a connection so a test can hold their locks open between statements.
enum LimitFunctions {
    /// `rampart.charge`: the cost, or nil when a budget refused.
    static func charge(
        _ operation: String,
        tenant: TenantID,
        issuer: String,
        subject: String,
        on connection: PostgresConnection
    ) async throws -> Int64? {
        let rows = try await connection.query(
            "SELECT cost, refused FROM rampart.charge(\(tenant.rawValue), \(issuer), \(subject), \(operation))",
            logger: TestDatabase.logger
        )
        for try await (cost, refused) in rows.decode((Int64, String?).self) {
            return refused == nil ? cost : nil
        }
        return nil
    }

    /// `rampart.rate_admit` over all of a call's cells together: the first refusing cell, if any.
    static func admit(_ cells: [RateCell], tenant: TenantID, on connection: PostgresConnection) async throws
        -> RateRefusal?
    {
        let rows = try await connection.query(
            """
            SELECT cell, wait_ms FROM rampart.rate_admit(\(tenant.rawValue), \(cells.map(\.key))::text[],
                                                         \(cells.map { Int32(clamping: $0.perMinute) })::integer[])
            """,
            logger: TestDatabase.logger
        )
        for try await (key, wait) in rows.decode((String, Int64).self) {
            return RateRefusal(limit: cells.first { $0.key == key }?.limit ?? "tenant", retryAfterMs: wait)
        }
        return nil
    }
}

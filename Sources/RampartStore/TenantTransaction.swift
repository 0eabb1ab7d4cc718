import Logging
import PostgresNIO
import RampartCore

extension PostgresConnection {
    /// Runs `body` in one transaction with `rampart.tenant_id` set transaction-locally, so every
    /// statement inside sees only `tenant`'s rows (RLS) and nothing leaks into the next
    /// transaction on the same (possibly pooled) connection.
    public func withTenantTransaction<Result: Sendable>(
        _ tenant: TenantID,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await execute("BEGIN", logger: logger)
        do {
            try await execute("SELECT set_config('rampart.tenant_id', \(tenant.rawValue), true)", logger: logger)
            let result = try await body(self)
            try await execute("COMMIT", logger: logger)
            return result
        } catch {
            _ = try? await execute("ROLLBACK", logger: logger)
            throw error
        }
    }
}

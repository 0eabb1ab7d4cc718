import PostgresNIO

extension PostgresClient {
    /// `withConnection`, counted in the pool-use gauge.
    func withMeteredConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        PoolUsage.shared.lease()
        defer { PoolUsage.shared.release() }
        return try await withConnection(isolation: isolation, body)
    }
}

import Logging
import PostgresNIO

extension PostgresConnection {
    /// Runs a statement and drains its rows. An error the server raises after the row
    /// description (a function's RAISE inside a SELECT) only surfaces while reading rows, so a
    /// statement whose result is not read must still be drained.
    func execute(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}

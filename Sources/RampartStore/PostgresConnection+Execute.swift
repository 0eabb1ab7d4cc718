import Logging
import NIOCore
import PostgresNIO

/// The connection is gone: the statement was not sent.
struct ConnectionClosed: Error {}

extension PostgresConnection {
    /// Runs a statement and returns all its rows.
    ///
    /// The statement is handed to the driver on the connection's event loop, after checking
    /// there that the connection is still open. postgres-nio 1.33.2 writes each query to its
    /// channel without a promise, so a query written after the connection died is silently
    /// dropped and never completes (a request that lost its database would hang forever); on the
    /// event loop nothing can close the channel between the check and the write.
    ///
    /// Errors the server raises after the row description (a function's RAISE inside a SELECT)
    /// surface here too: every row is read before this returns.
    public func fetch(_ query: PostgresQuery, logger: Logger) async throws -> PostgresQueryResult {
        try await eventLoop.flatSubmit {
            guard !self.isClosed else { return self.eventLoop.makeFailedFuture(ConnectionClosed()) }
            return self.query(query, logger: logger)
        }.get()
    }

    /// Runs a statement whose rows are not needed.
    func execute(_ query: PostgresQuery, logger: Logger) async throws {
        _ = try await fetch(query, logger: logger)
    }
}

extension PostgresQueryResult {
    /// Every row's first column as `Column`.
    public func decode<Column: PostgresDecodable>(_ type: Column.Type) throws -> [Column] {
        try rows.map { try $0.decode(Column.self) }
    }

    /// Every row as a tuple of `Column`s.
    public func decode<each Column: PostgresDecodable>(
        _ types: (repeat each Column).Type
    ) throws -> [(repeat each Column)] {
        var decoded: [(repeat each Column)] = []
        decoded.reserveCapacity(rows.count)
        for row in rows { decoded.append(try row.decode(types)) }
        return decoded
    }
}

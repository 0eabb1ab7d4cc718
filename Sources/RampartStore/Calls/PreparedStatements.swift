import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The call statements, prepared once per connection (protocol-level prepared statements: no
/// parsing or planning per call), or sent unprepared where a transaction-mode pooler cannot
/// carry them (`RAMPART_DB_PREPARED=off`).
///
/// Everything is handed to the driver on the connection's event loop after checking there that
/// the connection is open (see `PostgresConnection.fetch`): the EventLoopFuture API is the only
/// one that allows it, hence the driver's `prepare(query:)`.
final class PreparedStatements: Sendable {
    /// A statement that outlives its request cannot run past this on a prepared connection.
    static let sessionStatementTimeout = "8s"

    let enabled: Bool
    private let cache = Mutex<[ObjectIdentifier: Entry]>([:])

    private struct Entry: @unchecked Sendable {
        // PreparedQuery is a Sendable struct; the connection is kept to tell a reused address
        // from the connection it belonged to.
        let connection: PostgresConnection
        var statements: [String: PreparedQuery]
    }

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Runs `sql` with text `binds` on `connection`; every row is read before it returns. The
    /// statement must take every parameter as `text` and return only `text` columns: the
    /// driver's prepared path labels every result column as text whatever its type.
    func run(
        _ sql: String,
        binds: [String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [PostgresRow] {
        guard enabled else {
            var bindings = PostgresBindings()
            for bind in binds { bindings.append(bind) }
            return try await connection.fetch(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).rows
        }
        let data = binds.map { PostgresData(string: $0) }
        let loop = connection.eventLoop
        return try await loop.flatSubmit { () -> EventLoopFuture<[PostgresRow]> in
            guard !connection.isClosed else { return loop.makeFailedFuture(ConnectionClosed()) }
            if let prepared = self.statement(sql, on: connection) { return prepared.execute(data) }
            return self.firstUse(of: connection, logger: logger).flatMap { () -> EventLoopFuture<PreparedQuery> in
                guard !connection.isClosed else { return loop.makeFailedFuture(ConnectionClosed()) }
                return connection.prepare(query: sql)
            }.flatMap { prepared in
                self.remember(prepared, sql, on: connection)
                guard !connection.isClosed else { return loop.makeFailedFuture(ConnectionClosed()) }
                return prepared.execute(data)
            }
        }.get()
    }

    private func statement(_ sql: String, on connection: PostgresConnection) -> PreparedQuery? {
        cache.withLock { entries in
            guard let entry = entries[ObjectIdentifier(connection)], entry.connection === connection else { return nil }
            return entry.statements[sql]
        }
    }

    /// Once per connection: a session-wide statement timeout, so no statement of a request that
    /// was already answered can run on much longer.
    private func firstUse(of connection: PostgresConnection, logger: Logger) -> EventLoopFuture<Void> {
        let known = cache.withLock { $0[ObjectIdentifier(connection)]?.connection === connection }
        guard !known else { return connection.eventLoop.makeSucceededVoidFuture() }
        return connection.query(
            "SELECT set_config('statement_timeout', \(Self.sessionStatementTimeout), false)",
            logger: logger
        ).map { _ in }
    }

    private func remember(_ prepared: PreparedQuery, _ sql: String, on connection: PostgresConnection) {
        cache.withLock { entries in
            let key = ObjectIdentifier(connection)
            if entries[key]?.connection !== connection {
                if entries.count >= 64 { entries = entries.filter { !$0.value.connection.isClosed } }
                entries[key] = Entry(connection: connection, statements: [:])
            }
            entries[key]?.statements[sql] = prepared
        }
    }
}

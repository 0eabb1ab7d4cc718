import Logging
import NIOCore
import PostgresNIO
import RampartCore
import _ConnectionPoolModule

/// Turns driver errors into `RampartError`s at the store boundary.
///
/// Messages raised on purpose by Rampart's own SQL functions (the SQLSTATEs below) are written to
/// be shown; anything else becomes a generic message, with the driver's full report kept in
/// `detail` for the log.
public enum DatabaseErrors {
    public static func map(_ error: any Error) -> RampartError {
        if let error = error as? RampartError { return error }
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError {
                return map(inner)
            }
        }
        guard let report = ServerReport(error) else {
            // The pool giving up on connecting, a closed channel, a cancelled wait: the database
            // is out of reach, which callers answer with 503.
            if error is ConnectionPoolError || error is ChannelError || error is CancellationError
                || error is ConnectionClosed || error is PostgresError
            {
                return .init(.unavailable, "database unavailable", detail: String(reflecting: error))
            }
            return .init(.internal, "internal error", detail: String(reflecting: error))
        }
        let detail = String(reflecting: error)
        guard let state = report.sqlState else {
            return .init(.unavailable, "database unavailable", detail: detail)
        }
        let message = report.message ?? "database error"
        switch state {
        case "22023": return .init(.invalidArgument, message, detail: detail)
        case "P0002": return .init(.notFound, message, detail: detail)
        case "23505": return .init(.alreadyExists, message, detail: detail)
        case "40001": return .init(.conflict, message, detail: detail)
        case "22P02": return .init(.invalidArgument, "malformed value: \(message)", detail: detail)
        case "22P05", "22021":
            // Text the database cannot hold (U+0000, or a character outside its encoding).
            return .init(.invalidArgument, "a value contains a character the database cannot store", detail: detail)
        case "57014", "55P03":
            // statement_timeout or lock_timeout: the database stopped the work at the deadline.
            return .init(.unavailable, "database busy: the request deadline passed", detail: detail)
        case "42501":
            return .init(.refused, "permission denied: this database role may not do that", detail: detail)
        case "57P01", "57P02", "57P03", "08000", "08003", "08006":
            return .init(.unavailable, "database unavailable", detail: detail)
        default:
            return .init(.internal, "database error (SQLSTATE \(state))", detail: detail)
        }
    }

    /// The SQLSTATE behind an error, if the database raised it.
    public static func sqlState(_ error: any Error) -> String? {
        if let transaction = error as? PostgresTransactionError,
            let inner = transaction.closureError ?? transaction.beginError ?? transaction.commitError
        {
            return sqlState(inner)
        }
        return ServerReport(error)?.sqlState
    }

    /// What the driver says the server reported, from either of its error types: the async API's
    /// `PSQLError`, or the `PostgresError` its EventLoopFuture API (prepared statements) throws.
    private struct ServerReport {
        let sqlState: String?
        let message: String?

        init?(_ error: any Error) {
            if let psql = error as? PSQLError {
                sqlState = psql.serverInfo?[.sqlState]
                message = psql.serverInfo?[.message]
            } else if case .server(let report) = error as? PostgresError {
                sqlState = report.fields[.sqlState]
                message = report.fields[.message]
            } else {
                return nil
            }
        }
    }

    /// Logs a failure with its code and SQLSTATE at `level`; the driver's report, which can quote
    /// SQL text and request values (DETAIL, CONTEXT), only at debug.
    public static func log(
        _ error: any Error,
        _ message: Logger.Message,
        level: Logger.Level = .error,
        logger: Logger,
        metadata: Logger.Metadata = [:]
    ) {
        let mapped = map(error)
        var summary = metadata
        summary["rampart.error"] = .string(mapped.code.description)
        if let state = sqlState(error) { summary["rampart.sqlstate"] = .string(state) }
        logger.log(level: level, message, metadata: summary)
        if let detail = mapped.detail {
            logger.debug("\(message) (detail)", metadata: metadata.merging(["error": .string(detail)]) { $1 })
        }
    }
}

import PostgresNIO
import RampartCore

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
        guard let psql = error as? PSQLError else {
            return .init(.internal, "internal error", detail: String(reflecting: error))
        }
        let detail = String(reflecting: psql)
        guard let state = psql.serverInfo?[.sqlState] else {
            return .init(.unavailable, "database unavailable", detail: detail)
        }
        let message = psql.serverInfo?[.message] ?? "database error"
        switch state {
        case "22023": return .init(.invalidArgument, message, detail: detail)
        case "P0002": return .init(.notFound, message, detail: detail)
        case "23505": return .init(.alreadyExists, message, detail: detail)
        case "40001": return .init(.conflict, message, detail: detail)
        case "22P02": return .init(.invalidArgument, "malformed value: \(message)", detail: detail)
        case "42501":
            return .init(.refused, "permission denied: this database role may not do that", detail: detail)
        case "57P01", "57P02", "57P03", "08000", "08003", "08006":
            return .init(.unavailable, "database unavailable", detail: detail)
        default:
            return .init(.internal, "database error (SQLSTATE \(state))", detail: detail)
        }
    }
}

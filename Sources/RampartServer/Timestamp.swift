import Foundation

/// Times as responses and the audit stream write them: ISO 8601, UTC, milliseconds.
enum Timestamp {
    static func iso8601(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

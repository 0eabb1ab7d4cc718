import Foundation

/// Times as responses and the audit stream write them: ISO 8601, UTC, milliseconds.
enum Timestamp {
    static func iso8601(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// A time as `rampart.iso_time` writes it (the same form).
    static func parse(_ text: String) -> Date? {
        try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
    }
}

/// Identifiers are checked against allowlists (CONTRACT.md §7): anything else is invalid, and the
/// checks run on raw bytes so no Unicode trick can pass for an ASCII character.
enum IdentifierRule {
    static func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
    static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }
    static func isAlnum(_ b: UInt8) -> Bool { isLowerAlnum(b) || (b >= 0x41 && b <= 0x5A) }

    /// `^first rest{0,maxLength-1}$` over the UTF-8 bytes of `raw`.
    static func matches(
        _ raw: String,
        maxLength: Int,
        first: (UInt8) -> Bool,
        rest: (UInt8) -> Bool
    ) -> Bool {
        var length = 0
        for byte in raw.utf8 {
            guard length < maxLength, length == 0 ? first(byte) : rest(byte) else { return false }
            length += 1
        }
        return length > 0
    }

    /// A quoted, truncated form of untrusted input for error messages.
    static func quoted(_ raw: String) -> String {
        let printable = raw.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }
        return "\"" + String(printable) + (raw.unicodeScalars.count > 64 ? "…" : "") + "\""
    }
}

/// An identifier that passed its allowlist; it prints and sorts as its raw value.
public protocol ValidatedIdentifier: Sendable, Hashable, Comparable, CustomStringConvertible {
    var rawValue: String { get }
}

extension ValidatedIdentifier {
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// `^[a-z0-9][a-z0-9-]{0,62}$`
public struct TenantID: ValidatedIdentifier {
    public let rawValue: String

    public init(validating raw: String) throws(RampartError) {
        guard
            IdentifierRule.matches(
                raw,
                maxLength: 63,
                first: IdentifierRule.isLowerAlnum,
                rest: { IdentifierRule.isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
            )
        else {
            throw .invalidArgument(
                "invalid tenant id \(IdentifierRule.quoted(raw)): use 1-63 lowercase letters, digits and dashes, "
                    + "starting with a letter or digit"
            )
        }
        rawValue = raw
    }
}

/// `^[a-z][a-z0-9_]{0,62}$`
public struct CollectionName: ValidatedIdentifier {
    public let rawValue: String

    public init(validating raw: String) throws(RampartError) {
        guard
            IdentifierRule.matches(
                raw,
                maxLength: 63,
                first: IdentifierRule.isLower,
                rest: { IdentifierRule.isLowerAlnum($0) || $0 == UInt8(ascii: "_") }
            )
        else {
            throw .invalidArgument(
                "invalid collection \(IdentifierRule.quoted(raw)): use 1-63 lowercase letters, digits and "
                    + "underscores, starting with a letter"
            )
        }
        rawValue = raw
    }
}

/// `^[A-Za-z0-9_-]{1,64}$`
public struct DocumentID: ValidatedIdentifier {
    public let rawValue: String

    public init(validating raw: String) throws(RampartError) {
        let isIDByte = { (b: UInt8) in IdentifierRule.isAlnum(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") }
        guard IdentifierRule.matches(raw, maxLength: 64, first: isIDByte, rest: isIDByte) else {
            throw .invalidArgument(
                "invalid document id \(IdentifierRule.quoted(raw)): use 1-64 letters, digits, underscores and dashes"
            )
        }
        rawValue = raw
    }
}

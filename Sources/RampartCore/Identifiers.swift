/// Identifiers are checked against allowlists (CONTRACT.md §7): anything else is invalid, and the
/// checks run on raw bytes so no Unicode trick can pass for an ASCII character.
enum IdentifierRule {
    static func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
    static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }
    static func isAlnum(_ b: UInt8) -> Bool { isLowerAlnum(b) || (b >= 0x41 && b <= 0x5A) }

    /// A quoted, truncated form of untrusted input for error messages.
    static func quoted(_ raw: String) -> String {
        let printable = raw.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }
        return "\"" + String(printable) + (raw.unicodeScalars.count > 64 ? "…" : "") + "\""
    }
}

/// `^[a-z0-9][a-z0-9-]{0,62}$`
public struct TenantID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(validating raw: String) throws(RampartError) {
        let bytes = Array(raw.utf8)
        guard let first = bytes.first, bytes.count <= 63, IdentifierRule.isLowerAlnum(first),
            bytes.allSatisfy({ IdentifierRule.isLowerAlnum($0) || $0 == UInt8(ascii: "-") })
        else {
            throw .invalidArgument(
                "invalid tenant id \(IdentifierRule.quoted(raw)): use 1-63 lowercase letters, digits and dashes, "
                    + "starting with a letter or digit"
            )
        }
        rawValue = raw
    }

    public var description: String { rawValue }
    public static func < (lhs: TenantID, rhs: TenantID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// `^[a-z][a-z0-9_]{0,62}$`
public struct CollectionName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(validating raw: String) throws(RampartError) {
        let bytes = Array(raw.utf8)
        guard let first = bytes.first, bytes.count <= 63, IdentifierRule.isLower(first),
            bytes.allSatisfy({ IdentifierRule.isLowerAlnum($0) || $0 == UInt8(ascii: "_") })
        else {
            throw .invalidArgument(
                "invalid collection \(IdentifierRule.quoted(raw)): use 1-63 lowercase letters, digits and "
                    + "underscores, starting with a letter"
            )
        }
        rawValue = raw
    }

    public var description: String { rawValue }
    public static func < (lhs: CollectionName, rhs: CollectionName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// `^[A-Za-z0-9_-]{1,64}$`
public struct DocumentID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(validating raw: String) throws(RampartError) {
        let bytes = Array(raw.utf8)
        guard !bytes.isEmpty, bytes.count <= 64,
            bytes.allSatisfy({ IdentifierRule.isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else {
            throw .invalidArgument(
                "invalid document id \(IdentifierRule.quoted(raw)): use 1-64 letters, digits, underscores and dashes"
            )
        }
        rawValue = raw
    }

    public var description: String { rawValue }
    public static func < (lhs: DocumentID, rhs: DocumentID) -> Bool { lhs.rawValue < rhs.rawValue }
}

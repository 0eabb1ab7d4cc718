/// A document field: a key, or a dotted path from the root (`contact.ssn`). Each segment matches
/// `^[A-Za-z_][A-Za-z0-9_]{0,63}$`, at most 8 segments; nothing else reaches SQL.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public let segments: [String]

    public init(validating raw: String) throws(RampartError) {
        let parts = raw.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let isFirst = { (b: UInt8) in IdentifierRule.isAlnum(b) && !(b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") }
        let isRest = { (b: UInt8) in IdentifierRule.isAlnum(b) || b == UInt8(ascii: "_") }
        guard (1...8).contains(parts.count),
            parts.allSatisfy({ IdentifierRule.matches($0, maxLength: 64, first: isFirst, rest: isRest) })
        else {
            throw .invalidArgument(
                "invalid field \(IdentifierRule.quoted(raw)): use letters, digits and underscores, "
                    + "dot-separated, at most 8 levels"
            )
        }
        segments = parts
    }

    public var description: String { segments.joined(separator: ".") }
}

/// Control characters in free text (queries, purposes) are stripped (CONTRACT.md §11): they
/// have no meaning there and are a classic way to hide instructions from a human reviewer.
public enum TextSanitizer {
    public static func freeText(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !isControl(scalar) { scalars.append(scalar) }
        return String(scalars)
    }

    /// Document content keeps tab and newline; every other control or invisible character goes,
    /// in values and keys, at any depth.
    public static func document(_ value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text): .string(documentText(text))
        case .array(let elements): .array(elements.map(document))
        case .object(let members):
            .object(
                Dictionary(
                    members.map { (documentText($0.key), document($0.value)) },
                    uniquingKeysWith: { first, _ in first }
                )
            )
        default: value
        }
    }

    static func documentText(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !isControl(scalar) || scalar == "\t" || scalar == "\n" {
            scalars.append(scalar)
        }
        return String(scalars)
    }

    /// C0, DEL, C1, and the invisible format characters used for smuggling (bidi overrides,
    /// zero-width characters, Unicode tag characters).
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF: true
        case 0xE0000...0xE007F: true
        default: false
        }
    }
}

extension TextSanitizer {
    /// A quoted, truncated, control-free form of untrusted input for error messages.
    public static func quoted(_ raw: String) -> String { IdentifierRule.quoted(raw) }
}

/// Finds PII and secrets in response strings (a tenant's opt-in, `rampart admin redact detect`):
/// e-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs (mod-97-checked), US SSNs,
/// API-key-shaped strings and JWTs. Each is masked, keeping its last 4 characters.
public struct PIIDetector: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case email, phone, card, iban, ssn, apiKey = "api_key", jwt
    }

    public init() {}

    /// Compiles the patterns now rather than on first use.
    public static func precompile() { _ = compiled.count }

    /// Compiled once: detection runs on every string of every response of an opted-in tenant.
    nonisolated(unsafe) private static let compiled: [(Kind, Regex<AnyRegexOutput>)] = patterns.compactMap {
        kind,
        pattern in
        (try? Regex(pattern)).map { (kind, $0) }
    }

    private static let patterns: [(Kind, String)] = [
        (.jwt, #"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"#),
        (
            .apiKey,
            #"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}|xox[abposr]-[A-Za-z0-9-]{10,}"#
        ),
        (.email, #"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"#),
        (.iban, #"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"#),
        (.card, #"\b(?:[0-9][ -]?){12,18}[0-9]\b"#),
        (.ssn, #"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b"#),
        // International numbers with their + prefix, and 3-3-4 numbers with separators.
        (.phone, #"\+[0-9]{1,3}[ .-]?[0-9(][0-9 ().-]{6,14}[0-9]|\b\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}\b"#),
    ]

    /// The value with every detection masked, and what was found.
    public func scan(_ value: JSONValue) -> (value: JSONValue, found: [Kind: Int]) {
        var found: [Kind: Int] = [:]
        let result = walk(value, found: &found)
        return (result, found)
    }

    private func walk(_ value: JSONValue, found: inout [Kind: Int]) -> JSONValue {
        switch value {
        case .string(let text): return .string(scan(text, found: &found))
        case .array(let elements): return .array(elements.map { walk($0, found: &found) })
        case .object(let members): return .object(members.mapValues { walk($0, found: &found) })
        default: return value
        }
    }

    public func scan(_ text: String, found: inout [Kind: Int]) -> String {
        guard text.unicodeScalars.contains(where: { ("0"..."9").contains($0) || $0 == "@" || $0 == "." }) else {
            return text
        }
        var result = text
        for (kind, regex) in Self.compiled {
            var output = ""
            var last = result.startIndex
            for match in result.matches(of: regex) {
                let candidate = String(result[match.range])
                guard Self.confirms(kind, candidate) else { continue }
                output += result[last..<match.range.lowerBound]
                output += Self.masked(candidate)
                last = match.range.upperBound
                found[kind, default: 0] += 1
            }
            output += result[last...]
            result = output
        }
        return result
    }

    static func masked(_ text: String) -> String {
        let characters = Array(text)
        guard characters.count > 4 else { return String(repeating: "*", count: characters.count) }
        return String(repeating: "*", count: characters.count - 4) + String(characters.suffix(4))
    }

    /// Checksums that keep numbers which merely look like cards or IBANs from being masked.
    static func confirms(_ kind: Kind, _ candidate: String) -> Bool {
        switch kind {
        case .card: return luhn(candidate.filter(\.isNumber))
        case .iban: return ibanValid(candidate.filter { !$0.isWhitespace })
        default: return true
        }
    }

    static func luhn(_ digits: String) -> Bool {
        guard (13...19).contains(digits.count) else { return false }
        var sum = 0
        for (offset, character) in digits.reversed().enumerated() {
            guard var digit = character.wholeNumberValue else { return false }
            if offset % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }

    static func ibanValid(_ iban: String) -> Bool {
        guard (15...34).contains(iban.count) else { return false }
        let rearranged = iban.dropFirst(4) + iban.prefix(4)
        var remainder = 0
        for character in rearranged {
            if let digit = character.wholeNumberValue {
                remainder = (remainder * 10 + digit) % 97
            } else if let ascii = character.asciiValue, (65...90).contains(ascii) {
                remainder = (remainder * 100 + Int(ascii) - 55) % 97
            } else {
                return false
            }
        }
        return remainder == 1
    }
}

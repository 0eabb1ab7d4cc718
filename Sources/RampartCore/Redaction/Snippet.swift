/// A search snippet built from a (redacted) document's string values, so it can only show what
/// the caller may see: the first value holding a query term, up to 24 words around it, terms
/// marked `**…**`. nil when no visible value holds a term (the hit matched only hidden text).
public enum Snippet {
    public static func make(from document: JSONValue, query: String, maxWords: Int = 24) -> String? {
        let terms = words(in: query).map { $0.lowercased() }.filter { $0.count >= 2 }
        guard !terms.isEmpty else { return nil }
        for text in strings(in: document) {
            let tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let hit = tokens.firstIndex(where: { token in matches(token, terms) }) else { continue }
            let start = max(0, hit - maxWords / 3)
            let window = tokens[start..<min(tokens.count, start + maxWords)]
            return window.map { matches($0, terms) ? "**\($0)**" : $0 }.joined(separator: " ")
        }
        return nil
    }

    static func matches(_ token: String, _ terms: [String]) -> Bool {
        let word = words(in: token).joined().lowercased()
        return terms.contains { word.hasPrefix($0) || (word.count >= 4 && $0.hasPrefix(word)) }
    }

    static func words(in text: String) -> [String] {
        text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
    }

    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let elements): elements.flatMap(strings(in:))
        case .object(let members): members.keys.sorted().flatMap { strings(in: members[$0]!) }
        default: []
        }
    }
}

/// A search snippet built from a (redacted) document's string values, so it can only show what
/// the caller may see: the first value holding a query term, up to 24 words around it, terms
/// marked `**…**`. Markers go in last, so a detector run on the text first sees it unbroken.
public enum Snippet {
    public static let maxWords = 24

    /// The snippet of the first visible value holding a query term; nil when none does.
    public static func make(from document: JSONValue, query: String) -> String? {
        holding(query, in: document).map { window(of: $0, query: query) }
    }

    /// The first string value of `document` holding a query term (keys sorted), else the first
    /// string value: the database matched the document on its visible text, by stems the
    /// prefix test here may not see.
    public static func source(in document: JSONValue, query: String) -> String? {
        holding(query, in: document) ?? strings(in: document).first
    }

    static func holding(_ query: String, in document: JSONValue) -> String? {
        let terms = terms(of: query)
        return strings(in: document).first { text in
            text.split(whereSeparator: \.isWhitespace).contains { matches(String($0), terms) }
        }
    }

    /// Up to `maxWords` words of `text` around the first query term, terms marked.
    public static func window(of text: String, query: String) -> String {
        let terms = terms(of: query)
        let tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
        let hit = tokens.firstIndex { matches($0, terms) } ?? 0
        let start = max(0, hit - maxWords / 3)
        let window = tokens[start..<min(tokens.count, start + maxWords)]
        return window.map { matches($0, terms) ? "**\($0)**" : $0 }.joined(separator: " ")
    }

    static func terms(of query: String) -> [String] {
        words(in: query).map { $0.lowercased() }.filter { $0.count >= 2 }
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

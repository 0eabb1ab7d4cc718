/// An OAuth scope Rampart understands (CONTRACT.md §6).
public struct Scope: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    private init(_ rawValue: String) { self.rawValue = rawValue }

    public static let read = Scope("resources:read")
    public static let search = Scope("resources:search")
    public static let write = Scope("resources:write")
    public static let query = Scope("resources:query")
    public static let piiRead = Scope("pii:read")

    /// Every scope, in the order documentation lists them.
    public static let all: [Scope] = [.read, .search, .write, .query, .piiRead]

    /// A known scope, or nil: unknown scopes in a token are ignored, never widened.
    public init?(known raw: String) {
        guard let match = Self.all.first(where: { $0.rawValue == raw }) else { return nil }
        self = match
    }

    /// Parses scopes for an admin command: every entry must be known.
    public static func parseList(_ raws: [String]) throws(RampartError) -> [Scope] {
        var scopes: [Scope] = []
        for raw in raws {
            guard let scope = Scope(known: raw) else {
                throw .invalidArgument(
                    "unknown scope \(IdentifierRule.quoted(raw)): known scopes are "
                        + all.map(\.rawValue).joined(separator: ", ")
                )
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes
    }

    public var description: String { rawValue }
    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue < rhs.rawValue }
}

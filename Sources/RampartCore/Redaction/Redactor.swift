/// A tenant's redaction rule (CONTRACT.md §11): FIELD is a key name matched at any depth, or a
/// dotted path from the document's root (`contact.ssn`); arrays are transparent to paths.
public struct RedactionRule: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable { case redact, remove, mask }

    public let collection: String
    public let field: String
    public let action: Action
    /// Callers holding this scope see the field as it is.
    public let unlessScope: Scope?

    public init(collection: String, field: String, action: Action, unlessScope: Scope?) {
        self.collection = collection
        self.field = field
        self.action = action
        self.unlessScope = unlessScope
    }

    var segments: [String] { field.split(separator: ".").map(String.init) }
    /// A single name matches that key anywhere; a dotted path only from the root.
    var isKey: Bool { !field.contains(".") }
}

/// The rules that apply to one caller in one collection, applied to every response form:
/// documents, search snippets, query rows. Pure: a value in, a value out.
public struct Redactor: Sendable {
    public static let placeholder = "***REDACTED***"

    private let keyRules: [String: RedactionRule.Action]
    private let pathRules: [[String]: RedactionRule.Action]

    public init(rules: [RedactionRule], collection: String, scopes: Set<Scope>) {
        var keys: [String: RedactionRule.Action] = [:]
        var paths: [[String]: RedactionRule.Action] = [:]
        for rule in rules where rule.collection == collection && !(rule.unlessScope.map(scopes.contains) ?? false) {
            if rule.isKey { keys[rule.field] = rule.action } else { paths[rule.segments] = rule.action }
        }
        keyRules = keys
        pathRules = paths
    }

    public var isEmpty: Bool { keyRules.isEmpty && pathRules.isEmpty }

    /// The document with every hidden field redacted, removed or masked, and how many were.
    public func apply(_ value: JSONValue) -> (value: JSONValue, redacted: Int) {
        guard !isEmpty else { return (value, 0) }
        var count = 0
        let result = walk(value, path: [], count: &count)
        return (result, count)
    }

    private func walk(_ value: JSONValue, path: [String], count: inout Int) -> JSONValue {
        switch value {
        case .object(let members):
            var kept: [String: JSONValue] = [:]
            for (key, member) in members {
                let memberPath = path + [key]
                if let action = pathRules[memberPath] ?? keyRules[key] {
                    count += 1
                    switch action {
                    case .remove: continue
                    case .redact: kept[key] = .string(Self.placeholder)
                    case .mask: kept[key] = Self.mask(member)
                    }
                } else {
                    kept[key] = walk(member, path: memberPath, count: &count)
                }
            }
            return .object(kept)
        case .array(let elements):
            return .array(elements.map { walk($0, path: path, count: &count) })
        default:
            return value
        }
    }

    /// Keeps the last 4 characters of a scalar; anything shorter, or not a scalar, is all hidden.
    static func mask(_ value: JSONValue) -> JSONValue {
        let text: String
        switch value {
        case .string(let string): text = string
        case .int, .double, .bool: text = value.jsonText
        default: return .string(placeholder)
        }
        let characters = Array(text)
        guard characters.count > 4 else { return .string(String(repeating: "*", count: characters.count)) }
        return .string(String(repeating: "*", count: characters.count - 4) + String(characters.suffix(4)))
    }

    /// Whether a query may not filter, group, order or aggregate on `path`: it is hidden, lies
    /// inside something hidden, or contains something hidden (an object compared whole would
    /// reveal what it holds).
    public func conceals(_ path: FieldPath) -> Bool {
        let segments = path.segments
        if segments.contains(where: { keyRules[$0] != nil }) { return true }
        for hidden in pathRules.keys {
            let shared = min(hidden.count, segments.count)
            if Array(hidden.prefix(shared)) == Array(segments.prefix(shared)) { return true }
        }
        return false
    }

    /// Whether values compared or grouped must be scalars: with any key rule, an object or array
    /// could carry a hidden key anywhere inside it.
    public var comparesScalarsOnly: Bool { !keyRules.isEmpty }
}

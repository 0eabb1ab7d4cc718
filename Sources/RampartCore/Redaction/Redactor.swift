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

    /// The same rules for `rampart.visible(body, rules)` (sql/009), which search matches and ranks
    /// against: `{"keys": {KEY: ACTION}, "paths": {"a.b": ACTION}}`.
    public var sqlRules: JSONValue {
        [
            "keys": .object(keyRules.mapValues { .string($0.rawValue) }),
            "paths": .object(
                Dictionary(
                    pathRules.map { ($0.key.joined(separator: "."), JSONValue.string($0.value.rawValue)) },
                    uniquingKeysWith: { first, _ in first }
                )
            ),
        ]
    }

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

    /// A write of a caller who may not see everything: `incoming` with every field this caller
    /// may not see taken from `stored`, as stored — a caller writes back what it read, placeholders
    /// and all, and must not destroy what it could not see. Hidden fields new to the document are
    /// written as sent. nil when `incoming` has no place for a hidden field of `stored` (it
    /// replaced an object holding one with something else): such a write is refused.
    public func preserving(_ stored: JSONValue, into incoming: JSONValue) -> (value: JSONValue, preserved: Int)? {
        guard !isEmpty else { return (incoming, 0) }
        var count = 0
        var lost = false
        let merged = merge(incoming, stored, path: [], count: &count, lost: &lost)
        return lost ? nil : (merged, count)
    }

    private func merge(
        _ incoming: JSONValue,
        _ stored: JSONValue,
        path: [String],
        count: inout Int,
        lost: inout Bool
    ) -> JSONValue {
        switch (incoming, stored) {
        case (.object(var members), .object(let old)):
            for (key, oldValue) in old {
                let memberPath = path + [key]
                if pathRules[memberPath] ?? keyRules[key] != nil {
                    members[key] = oldValue
                    count += 1
                } else if let newValue = members[key] {
                    members[key] = merge(newValue, oldValue, path: memberPath, count: &count, lost: &lost)
                } else if holdsHidden(oldValue, path: memberPath) {
                    lost = true
                }
            }
            return .object(members)
        case (.array(let elements), .array(let old)):
            if old.dropFirst(elements.count).contains(where: { holdsHidden($0, path: path) }) { lost = true }
            return .array(
                elements.enumerated().map { index, element in
                    index < old.count
                        ? merge(element, old[index], path: path, count: &count, lost: &lost) : element
                }
            )
        default:
            // Anything hidden below a node the caller replaced would be destroyed.
            if holdsHidden(stored, path: path) { lost = true }
            return incoming
        }
    }

    /// Whether `value`, found at `path`, holds a field this caller may not see.
    private func holdsHidden(_ value: JSONValue, path: [String]) -> Bool {
        switch value {
        case .object(let members):
            members.contains { key, member in
                pathRules[path + [key]] ?? keyRules[key] != nil || holdsHidden(member, path: path + [key])
            }
        case .array(let elements): elements.contains { holdsHidden($0, path: path) }
        default: false
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

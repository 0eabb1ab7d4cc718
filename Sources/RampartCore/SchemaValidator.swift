import Synchronization

/// Checks a value against the JSON Schema subset Rampart's tool schemas use — `type`,
/// `properties`, `required`, `additionalProperties: false`, `pattern`, `minLength`/`maxLength`,
/// `minimum`/`maximum`, `enum`, `items`, `minItems`/`maxItems`, `anyOf` — so the schema a client
/// reads in `tools/list` is exactly the one enforced. Errors name the argument by its path.
public enum SchemaValidator {
    public static func validate(_ value: JSONValue, against schema: JSONValue) throws(RampartError) {
        try check(value, schema, path: "")
    }

    /// Compiles every pattern of `schema` now rather than on first use (start-up; fuzzing, where
    /// a cache filled during one input would look like a leak). False when a pattern is invalid.
    @discardableResult
    public static func precompile(_ schema: JSONValue) -> Bool {
        switch schema {
        case .object(let members):
            let own = members["pattern"]?.stringValue.map { compiled($0) != nil } ?? true
            return members.values.map(precompile).allSatisfy { $0 } && own
        case .array(let elements):
            return elements.map(precompile).allSatisfy { $0 }
        default:
            return true
        }
    }

    private static func fail(_ path: String, _ problem: String) -> RampartError {
        ArgumentReader.invalid(path.isEmpty ? "arguments" : path, problem)
    }

    private static func check(_ value: JSONValue, _ schema: JSONValue, path: String) throws(RampartError) {
        if let options = schema["anyOf"]?.arrayValue {
            for option in options where (try? check(value, option, path: path)) != nil { return }
            throw fail(path, "does not match any allowed form")
        }
        if let type = schema["type"]?.stringValue, !matches(value, type: type) {
            throw fail(path, "expected \("aeiou".contains(type.first ?? "x") ? "an" : "a") \(type)")
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            throw fail(path, "must be one of " + allowed.map { $0.stringValue ?? $0.jsonText }.joined(separator: ", "))
        }
        switch value {
        case .string(let text):
            let length = text.unicodeScalars.count
            if let minimum = schema["minLength"]?.intValue, length < minimum {
                throw fail(path, "shorter than \(minimum) characters")
            }
            if let maximum = schema["maxLength"]?.intValue, length > maximum {
                throw fail(path, "longer than \(maximum) characters")
            }
            if let pattern = schema["pattern"]?.stringValue {
                // JSON Schema patterns search; Rampart's are all anchored with ^…$.
                guard let regex = compiled(pattern), text.firstMatch(of: regex) != nil else {
                    throw fail(path, "does not match the pattern \(pattern)")
                }
            }
        case .int, .double:
            let number: Double = if case .int(let integer) = value { Double(integer) } else { value.doubleValue ?? 0 }
            if let minimum = schema["minimum"].flatMap(\.doubleValue), number < minimum {
                throw fail(path, "must be at least \(schema["minimum"]!.jsonText)")
            }
            if let maximum = schema["maximum"].flatMap(\.doubleValue), number > maximum {
                throw fail(path, "must be at most \(schema["maximum"]!.jsonText)")
            }
        case .array(let elements):
            if let minimum = schema["minItems"]?.intValue, elements.count < minimum {
                throw fail(path, "needs at least \(minimum) entries")
            }
            if let maximum = schema["maxItems"]?.intValue, elements.count > maximum {
                throw fail(path, "more than \(maximum) entries")
            }
            if let items = schema["items"] {
                for (index, element) in elements.enumerated() { try check(element, items, path: "\(path)[\(index)]") }
            }
        case .object(let members):
            let properties = schema["properties"]?.objectValue ?? [:]
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
                throw fail(join(path, name), "required")
            }
            for key in members.keys.sorted() {
                if let property = properties[key] {
                    try check(members[key]!, property, path: join(path, key))
                } else if schema["additionalProperties"] == false {
                    throw fail(join(path, key), "unknown argument")
                }
            }
        default:
            break
        }
    }

    /// The tool schemas' patterns, compiled once each (every call checks several). A compiled
    /// `Regex` is immutable; the box only tells the compiler so.
    private final class Compiled: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
        init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    }
    private static let cache = Mutex<[String: Compiled]>([:])

    private static func compiled(_ pattern: String) -> Regex<AnyRegexOutput>? {
        if let hit = cache.withLock({ $0[pattern] }) { return hit.regex }
        guard let regex = try? Regex(pattern) else { return nil }
        let entry = Compiled(regex)
        cache.withLock { $0[pattern] = entry }
        return regex
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null): true
        case ("number", .int), ("number", .double): true
        case ("integer", .int): true
        case ("integer", .double(let double)): double == double.rounded() && abs(double) < 9e15
        default: false
        }
    }
}

extension JSONValue {
    public var doubleValue: Double? {
        switch self {
        case .int(let integer): Double(integer)
        case .double(let double): double
        default: nil
        }
    }
}

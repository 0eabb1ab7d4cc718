/// Reads a tool's arguments against a strict schema: every key must be known, every value of the
/// expected type and range, and an error names the argument without echoing its value.
public struct ArgumentReader: Sendable {
    public let arguments: [String: JSONValue]

    public init(_ arguments: [String: JSONValue], allowed: Set<String>) throws(RampartError) {
        for key in arguments.keys.sorted() where !allowed.contains(key) {
            throw Self.invalid(key, "unknown argument")
        }
        self.arguments = arguments
    }

    public static func invalid(_ name: String, _ problem: String) -> RampartError {
        .invalidArgument("invalid argument \(IdentifierRule.quoted(name)): \(problem)")
    }

    /// The value, treating an explicit `null` as absent.
    public func optional(_ name: String) -> JSONValue? {
        guard let value = arguments[name], value != .null else { return nil }
        return value
    }

    public func required(_ name: String) throws(RampartError) -> JSONValue {
        guard let value = optional(name) else { throw Self.invalid(name, "required") }
        return value
    }

    public func string(_ name: String, maxLength: Int = 1024) throws(RampartError) -> String? {
        guard let value = optional(name) else { return nil }
        guard let text = value.stringValue else { throw Self.invalid(name, "expected a string") }
        guard text.utf8.count <= maxLength else { throw Self.invalid(name, "longer than \(maxLength) bytes") }
        return text
    }

    public func requiredString(_ name: String, maxLength: Int = 1024) throws(RampartError) -> String {
        guard let text = try string(name, maxLength: maxLength) else { throw Self.invalid(name, "required") }
        return text
    }

    public func integer(_ name: String, range: ClosedRange<Int64>) throws(RampartError) -> Int64? {
        guard let value = optional(name) else { return nil }
        guard let integer = value.intValue, range.contains(integer) else {
            throw Self.invalid(name, "expected an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }

    public func array(_ name: String, maxCount: Int) throws(RampartError) -> [JSONValue]? {
        guard let value = optional(name) else { return nil }
        guard let elements = value.arrayValue else { throw Self.invalid(name, "expected an array") }
        guard elements.count <= maxCount else { throw Self.invalid(name, "more than \(maxCount) entries") }
        return elements
    }

    public func object(_ name: String) throws(RampartError) -> [String: JSONValue]? {
        guard let value = optional(name) else { return nil }
        guard let members = value.objectValue else { throw Self.invalid(name, "expected an object") }
        return members
    }

    /// An identifier argument: the allowlist's message, prefixed with the argument's name.
    public func identifier<Identifier>(
        _ name: String,
        _ make: (String) throws(RampartError) -> Identifier
    ) throws(RampartError) -> Identifier? {
        guard let text = try string(name, maxLength: 256) else { return nil }
        do {
            return try make(text)
        } catch {
            throw Self.invalid(name, error.message)
        }
    }

    public func requiredIdentifier<Identifier>(
        _ name: String,
        _ make: (String) throws(RampartError) -> Identifier
    ) throws(RampartError) -> Identifier {
        guard let identifier = try identifier(name, make) else { throw Self.invalid(name, "required") }
        return identifier
    }
}

/// `execute_query`'s arguments, validated (CONTRACT.md §8). The store compiles it to
/// parameterized SQL: fields become bound path arrays, values bound parameters, and operators,
/// functions and directions come from the closed sets below — no client text becomes SQL.
public struct DocumentQuery: Sendable, Equatable {
    public enum Operator: String, Sendable, CaseIterable { case eq, ne, lt, le, gt, ge, contains, `in` }
    public enum Function: String, Sendable, CaseIterable { case count, sum, avg, min, max }

    public struct Condition: Sendable, Equatable {
        public let field: FieldPath
        public let op: Operator
        public let value: JSONValue
    }

    public struct Aggregate: Sendable, Equatable {
        public let function: Function
        public let field: FieldPath?
        /// The key of the result in each row: `count`, or `sum(amount)`.
        public var label: String { field.map { "\(function.rawValue)(\($0))" } ?? function.rawValue }
    }

    public struct Ordering: Sendable, Equatable {
        /// A field path, or (in a grouped query) an aggregate label.
        public let key: String
        public let descending: Bool
    }

    public static let maxLimit: Int64 = 1000
    public static let defaultLimit: Int64 = 100

    public let collection: CollectionName
    public let conditions: [Condition]
    public let groupBy: [FieldPath]
    public let aggregates: [Aggregate]
    public let orderBy: [Ordering]
    public let limit: Int64

    public var isGrouped: Bool { !groupBy.isEmpty || !aggregates.isEmpty }

    /// Every field the query reads, for redaction checks.
    public var fieldsUsed: [FieldPath] {
        conditions.map(\.field) + groupBy + aggregates.compactMap(\.field)
            + orderBy.compactMap { try? FieldPath(validating: $0.key) }
    }

    public init(arguments reader: ArgumentReader) throws(RampartError) {
        collection = try reader.requiredIdentifier("collection", CollectionName.init(validating:))
        conditions = try (reader.array("where", maxCount: 16) ?? []).map(Self.condition)
        groupBy = try (reader.array("group_by", maxCount: 4) ?? []).map(Self.groupField)
        aggregates = try (reader.array("aggregate", maxCount: 8) ?? []).map(Self.aggregate)
        limit = try reader.integer("limit", range: 1...Self.maxLimit) ?? Self.defaultLimit
        let groupKeys = Set(groupBy.map(\.description) + aggregates.map(\.label))
        var orderBy: [Ordering] = []
        for entry in try reader.array("order_by", maxCount: 4) ?? [] {
            let ordering = try Self.ordering(entry)
            if groupKeys.isEmpty {
                do { _ = try FieldPath(validating: ordering.key) } catch {
                    throw ArgumentReader.invalid("order_by", error.message)
                }
            } else if !groupKeys.contains(ordering.key) {
                throw ArgumentReader.invalid("order_by", "a grouped query orders by its group_by fields or aggregates")
            }
            orderBy.append(ordering)
        }
        self.orderBy = orderBy
    }

    private static func groupField(_ entry: JSONValue) throws(RampartError) -> FieldPath {
        guard let text = entry.stringValue else { throw ArgumentReader.invalid("group_by", "expected field names") }
        do { return try FieldPath(validating: text) } catch { throw ArgumentReader.invalid("group_by", error.message) }
    }

    private static func condition(_ entry: JSONValue) throws(RampartError) -> Condition {
        guard let members = entry.objectValue else {
            throw ArgumentReader.invalid("where", "expected {field, op, value}")
        }
        let reader: ArgumentReader
        do { reader = try ArgumentReader(members, allowed: ["field", "op", "value"]) } catch {
            throw ArgumentReader.invalid("where", error.message)
        }
        guard let fieldText = members["field"]?.stringValue else {
            throw ArgumentReader.invalid("where", "field is required")
        }
        let field: FieldPath
        do { field = try FieldPath(validating: fieldText) } catch {
            throw ArgumentReader.invalid("where", error.message)
        }
        guard let opText = members["op"]?.stringValue, let op = Operator(rawValue: opText) else {
            throw ArgumentReader.invalid(
                "where",
                "op must be one of " + Operator.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        guard let value = reader.arguments["value"] else { throw ArgumentReader.invalid("where", "value is required") }
        // PostgreSQL's text and jsonb cannot hold U+0000: such a value could never match, and
        // sent to the database it would fail the whole call.
        guard !value.containsNUL else {
            throw ArgumentReader.invalid("where", "a value cannot contain the NUL character (U+0000)")
        }
        switch op {
        case .in:
            guard let list = value.arrayValue, (1...100).contains(list.count), list.allSatisfy(\.isScalar) else {
                throw ArgumentReader.invalid("where", "'in' takes a list of 1-100 scalar values")
            }
        case .contains:
            guard value.isScalar, value != .null else {
                throw ArgumentReader.invalid("where", "'contains' takes a string, number or boolean")
            }
        case .lt, .le, .gt, .ge:
            guard value.isScalar, value != .null else {
                throw ArgumentReader.invalid("where", "ordering comparisons take a string, number or boolean")
            }
        case .eq, .ne:
            break
        }
        return Condition(field: field, op: op, value: value)
    }

    private static func aggregate(_ entry: JSONValue) throws(RampartError) -> Aggregate {
        guard let members = entry.objectValue, members.keys.allSatisfy({ $0 == "fn" || $0 == "field" }),
            let fnText = members["fn"]?.stringValue, let function = Function(rawValue: fnText)
        else {
            throw ArgumentReader.invalid("aggregate", "expected {fn: count|sum|avg|min|max, field?}")
        }
        let field: FieldPath?
        switch members["field"] {
        case .none, .some(.null): field = nil
        case .some(.string(let text)):
            do { field = try FieldPath(validating: text) } catch {
                throw ArgumentReader.invalid("aggregate", error.message)
            }
        default: throw ArgumentReader.invalid("aggregate", "field must be a string")
        }
        guard function == .count || field != nil else {
            throw ArgumentReader.invalid("aggregate", "\(function.rawValue) needs a field")
        }
        return Aggregate(function: function, field: field)
    }

    /// `"field"`, `"-field"` (descending), or `{field, direction: asc|desc}`.
    private static func ordering(_ entry: JSONValue) throws(RampartError) -> Ordering {
        if let text = entry.stringValue, !text.isEmpty, text.utf8.count <= 600 {
            return text.hasPrefix("-")
                ? Ordering(key: String(text.dropFirst()), descending: true) : Ordering(key: text, descending: false)
        }
        guard let members = entry.objectValue, members.keys.allSatisfy({ $0 == "field" || $0 == "direction" }),
            let key = members["field"]?.stringValue, key.utf8.count <= 600
        else {
            throw ArgumentReader.invalid("order_by", "expected \"field\", \"-field\" or {field, direction}")
        }
        switch members["direction"] {
        case .none, .some(.null), .some(.string("asc")): return Ordering(key: key, descending: false)
        case .some(.string("desc")): return Ordering(key: key, descending: true)
        default: throw ArgumentReader.invalid("order_by", "direction must be asc or desc")
        }
    }
}

extension JSONValue {
    /// A string, number, boolean or null.
    public var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }
}

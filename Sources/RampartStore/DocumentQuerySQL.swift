import RampartCore

/// Compiles a validated `DocumentQuery` to one parameterized statement over the tenant's
/// documents. Only fixed SQL fragments are written here; field paths, values and labels are all
/// parameters, so nothing a client sends is ever SQL text.
///
/// Each result row is `(row, documents)`: the row or group as a JSON object, and the URIs of the
/// documents behind it — the one document of a plain row, or a group's first `documentsPerGroup`
/// (a conversation's resource cap counts them).
enum DocumentQuerySQL {
    /// The statement `rampart.call_query` runs (sql/010): every value is an element of `$1`, a
    /// JSON array returned here; the function supplies the conversation's scope ($2 whole tenant,
    /// $3 collections, $4 documents), the tenant ($5) and the documents per group ($6).
    static func embedded(_ query: DocumentQuery, scalarsOnly: Bool) -> (sql: String, arguments: JSONValue) {
        var builder = Builder(scalarsOnly: scalarsOnly)
        let slots = Slots(
            tenant: "$5::text",
            wholeTenant: "$2::boolean",
            collections: "$3::text[]",
            documents: "$4::text[]",
            documentsPerGroup: "$6::integer"
        )
        let sql = statement(query, slots: slots, builder: &builder)
        let arguments = builder.parameters.map { parameter -> JSONValue in
            switch parameter {
            case .text(let text): .string(text)
            case .bool(let flag): .bool(flag)
            case .int(let integer): .int(integer)
            case .int32(let integer): .int(Int64(integer))
            case .texts(let texts): .string(arrayLiteral(texts))
            case .json(let value): value
            }
        }
        return (sql, .array(arguments))
    }

    /// `{"a","b"}`: a text[] literal (field segments are identifiers, quoted all the same).
    static func arrayLiteral(_ texts: [String]) -> String {
        "{"
            + texts.map { "\"" + $0.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    /// Where the statement refers to what the caller fixes: the tenant, the scope, the cap.
    private struct Slots {
        let tenant: String
        let wholeTenant: String
        let collections: String
        let documents: String
        let documentsPerGroup: String
    }

    private static func statement(
        _ query: DocumentQuery,
        slots: Slots,
        builder: inout Builder
    ) -> String {
        let collectionParameter = builder.bind(.text(query.collection.rawValue))
        var predicates = ["d.tenant_id = \(slots.tenant)", "d.collection = \(collectionParameter)"]
        predicates.append(
            "(\(slots.wholeTenant) OR d.collection = ANY(\(slots.collections)) "
                + "OR (d.collection || '/' || d.id) = ANY(\(slots.documents)))"
        )
        predicates += query.conditions.map { builder.condition($0) }
        let uri = "'tenant://' || d.tenant_id || '/' || d.collection || '/' || d.id"

        var sql: String
        if query.isGrouped {
            var members: [String] = []
            var groupExpressions: [String] = []
            var orderable: [String: String] = [:]
            for field in query.groupBy {
                let expression = builder.field(field)
                groupExpressions.append(expression)
                orderable[field.description] = expression
                members.append("\(builder.bind(.text(field.description)))::text, \(expression)")
            }
            for aggregate in query.aggregates {
                let expression = builder.aggregate(aggregate)
                orderable[aggregate.label] = expression
                members.append("\(builder.bind(.text(aggregate.label)))::text, \(expression)")
            }
            let orderTerms = query.orderBy.compactMap { ordering in
                orderable[ordering.key].map { "\($0) \(ordering.descending ? "DESC" : "ASC") NULLS LAST" }
            }
            let documents =
                "coalesce((array_agg(\(uri) ORDER BY d.collection, d.id))[1:\(slots.documentsPerGroup)], '{}')"
            sql = "SELECT jsonb_build_object(\(members.joined(separator: ", "))), \(documents)"
            sql += " FROM rampart.documents d"
            sql += " WHERE " + predicates.joined(separator: " AND ")
            if !groupExpressions.isEmpty {
                sql += " GROUP BY " + groupExpressions.joined(separator: ", ")
                sql +=
                    " ORDER BY "
                    + (orderTerms + groupExpressions.map { "\($0) ASC NULLS LAST" }).joined(separator: ", ")
            }
        } else {
            let orderTerms = query.orderBy.compactMap { ordering in
                (try? FieldPath(validating: ordering.key)).map {
                    "\(builder.field($0)) \(ordering.descending ? "DESC" : "ASC") NULLS LAST"
                }
            }
            sql = "SELECT jsonb_build_object('uri', \(uri), 'version', d.version, 'content', d.body), "
            sql += "ARRAY[\(uri)] FROM rampart.documents d"
            sql += " WHERE " + predicates.joined(separator: " AND ")
            sql += " ORDER BY " + (orderTerms + ["d.id ASC"]).joined(separator: ", ")
        }
        sql += " LIMIT \(builder.bind(.int(query.limit)))"
        return sql
    }

    private enum Parameter {
        case text(String), bool(Bool), int(Int64), int32(Int32), texts([String]), json(JSONValue)
    }

    private struct Builder {
        let scalarsOnly: Bool
        var parameters: [Parameter] = []

        /// A reference to a new parameter: element N-1 of the JSON array `$1`.
        mutating func bind(_ parameter: Parameter) -> String {
            parameters.append(parameter)
            let element = parameters.count - 1
            return switch parameter {
            case .text: "($1->>\(element))"
            case .bool: "(($1->>\(element))::boolean)"
            case .int: "(($1->>\(element))::bigint)"
            case .int32: "(($1->>\(element))::integer)"
            case .texts: "(($1->>\(element))::text[])"
            case .json: "($1->\(element))"
            }
        }

        mutating func field(_ path: FieldPath) -> String {
            let segments = bind(.texts(path.segments))
            let value = "(d.body #> \(segments))"
            guard scalarsOnly else { return value }
            return "(CASE WHEN jsonb_typeof(\(value)) IN ('object', 'array') THEN NULL ELSE \(value) END)"
        }

        mutating func json(_ value: JSONValue) -> String {
            bind(.json(value))
        }

        mutating func condition(_ condition: DocumentQuery.Condition) -> String {
            let field = field(condition.field)
            switch condition.op {
            case .eq: return "\(field) = \(json(condition.value))"
            case .ne: return "\(field) IS DISTINCT FROM \(json(condition.value))"
            case .lt, .le, .gt, .ge:
                let value = json(condition.value)
                let op = ["lt": "<", "le": "<=", "gt": ">", "ge": ">="][condition.op.rawValue]!
                return "(jsonb_typeof(\(field)) = jsonb_typeof(\(value)) AND \(field) \(op) \(value))"
            case .contains:
                var alternatives = [
                    "(jsonb_typeof(\(field)) = 'array' AND \(field) @> jsonb_build_array(\(json(condition.value))))"
                ]
                if let text = condition.value.stringValue {
                    alternatives.append(
                        "(jsonb_typeof(\(field)) = 'string' AND strpos(lower(\(field) #>> '{}'), lower(\(bind(.text(text))))) > 0)"
                    )
                }
                return "(" + alternatives.joined(separator: " OR ") + ")"
            case .in:
                return "\(field) = ANY (ARRAY(SELECT jsonb_array_elements(\(json(condition.value)))))"
            }
        }

        mutating func aggregate(_ aggregate: DocumentQuery.Aggregate) -> String {
            guard let path = aggregate.field else { return "count(*)" }
            let field = field(path)
            let number = "(CASE WHEN jsonb_typeof(\(field)) = 'number' THEN (\(field) #>> '{}')::numeric END)"
            switch aggregate.function {
            case .count: return "count(\(field))"
            case .sum: return "sum(\(number))"
            case .avg: return "round(avg(\(number)), 6)"
            case .min: return "min(\(number))"
            case .max: return "max(\(number))"
            }
        }
    }
}

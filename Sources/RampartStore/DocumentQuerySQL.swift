import PostgresNIO
import RampartCore

/// Compiles a validated `DocumentQuery` to one parameterized statement over the tenant's
/// documents. Only fixed SQL fragments are written here; field paths, values and labels are all
/// bound parameters, so nothing a client sends is ever SQL text.
enum DocumentQuerySQL {
    /// Each result row is `(json, documents)`: the row or group as a JSON object, and the URIs of
    /// the documents behind it — the one document of a plain row, or a group's first
    /// `documentsPerGroup` (a conversation's resource cap counts them).
    static func compile(
        _ query: DocumentQuery,
        tenant: TenantID,
        scope: ScopeFilter,
        scalarsOnly: Bool = false,
        documentsPerGroup: Int = 1000
    ) -> PostgresQuery {
        var builder = Builder(scalarsOnly: scalarsOnly)
        let tenantParameter = builder.bind(tenant.rawValue)
        let collectionParameter = builder.bind(query.collection.rawValue)
        var predicates = ["d.tenant_id = \(tenantParameter)", "d.collection = \(collectionParameter)"]
        predicates.append(
            "(\(builder.bind(scope.wholeTenant)) OR d.collection = ANY(\(builder.bind(scope.collections))::text[]) "
                + "OR (d.collection || '/' || d.id) = ANY(\(builder.bind(scope.documents))::text[]))"
        )
        predicates += query.conditions.map { builder.condition($0) }

        var sql: String
        if query.isGrouped {
            var members: [String] = []
            var groupExpressions: [String] = []
            var orderable: [String: String] = [:]
            for field in query.groupBy {
                let expression = builder.field(field)
                groupExpressions.append(expression)
                orderable[field.description] = expression
                members.append("\(builder.bind(field.description))::text, \(expression)")
            }
            for aggregate in query.aggregates {
                let expression = builder.aggregate(aggregate)
                orderable[aggregate.label] = expression
                members.append("\(builder.bind(aggregate.label))::text, \(expression)")
            }
            let orderTerms = query.orderBy.compactMap { ordering in
                orderable[ordering.key].map { "\($0) \(ordering.descending ? "DESC" : "ASC") NULLS LAST" }
            }
            let documents =
                "coalesce((array_agg('tenant://' || d.tenant_id || '/' || d.collection || '/' || d.id "
                + "ORDER BY d.collection, d.id))[1:\(builder.bind(Int32(clamping: documentsPerGroup)))], '{}')"
            sql = "SELECT jsonb_build_object(\(members.joined(separator: ", ")))::text, \(documents)"
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
            sql = """
                SELECT jsonb_build_object('uri', 'tenant://' || d.tenant_id || '/' || d.collection || '/' || d.id, \
                'version', d.version, 'content', d.body)::text, \
                ARRAY['tenant://' || d.tenant_id || '/' || d.collection || '/' || d.id] FROM rampart.documents d
                """
            sql += " WHERE " + predicates.joined(separator: " AND ")
            sql += " ORDER BY " + (orderTerms + ["d.id ASC"]).joined(separator: ", ")
        }
        sql += " LIMIT \(builder.bind(query.limit))"
        return PostgresQuery(unsafeSQL: sql, binds: builder.binds)
    }

    private struct Builder {
        let scalarsOnly: Bool
        var binds = PostgresBindings()
        private var count = 0

        init(scalarsOnly: Bool) {
            self.scalarsOnly = scalarsOnly
        }

        mutating func bind(_ value: some PostgresNonThrowingEncodable) -> String {
            binds.append(value)
            count += 1
            return "$\(count)"
        }

        mutating func field(_ path: FieldPath) -> String {
            let value = "(d.body #> \(bind(path.segments))::text[])"
            guard scalarsOnly else { return value }
            return "(CASE WHEN jsonb_typeof(\(value)) IN ('object', 'array') THEN NULL ELSE \(value) END)"
        }

        mutating func json(_ value: JSONValue) -> String {
            "\(bind(value.jsonText))::jsonb"
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
                        "(jsonb_typeof(\(field)) = 'string' AND strpos(lower(\(field) #>> '{}'), lower(\(bind(text)))) > 0)"
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

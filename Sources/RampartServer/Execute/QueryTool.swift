import RampartCore
import RampartMCP
import RampartStore

/// `execute_query`: a validated query compiled to parameterized SQL over the conversation's
/// scope. Hidden fields cannot be queried; rows show contents as the caller may see them; every
/// row counts its documents against the conversation's cap.
struct QueryTool: Sendable {
    let calls: CoalescedCalls

    func run(_ query: DocumentQuery, handle: String?, route: CallRoute) async throws -> ToolOutcome {
        let redactor = route.redactor(query.collection.rawValue)
        if let hidden = query.fieldsUsed.first(where: redactor.conceals) {
            throw ToolRefusal(
                message: "invalid argument: field \"\(hidden)\" is not visible to you and cannot be queried",
                layer: .sanitize,
                reason: "query on a redacted field"
            )
        }
        var identity = route.identity(
            tool: ToolCatalog.executeQuery.name,
            operation: ToolCatalog.executeQuery.name,
            handle: handle
        )
        let call = { (identity: CallIdentity) in
            CallStore.Query(identity: identity, query: query, scalarsOnly: redactor.comparesScalarsOnly)
        }
        let tenant = route.principal.tenant
        if route.tenant.piiDetection,
            let preview = try await calls.store.query(
                [call(identity)],
                tenant: tenant,
                until: route.deadline,
                preview: true
            )
            .first, preview.outcome == .ok
        {
            if let counts = Detection.scan(try rows(preview.payload, redactor: redactor)).counts {
                identity.details["detected"] = counts
            }
        }
        let answer = try await calls.query(call(identity), tenant: tenant, until: route.deadline)
        switch try route.settle(answer, in: identity.conversation) {
        case .failure(let refusal):
            return refusal.outcome
        case .success(let (_, payload)):
            let shown = try rows(payload, redactor: redactor)
            return .success(route.tenant.piiDetection ? Detection.scan(shown).value : shown)
        }
    }

    /// `{rows: [...]}`, each document row's content redacted for the caller.
    private func rows(_ payload: String?, redactor: Redactor) throws -> JSONValue {
        let rows = (try JSONParser.parse(payload ?? "[]", maxDepth: 512).arrayValue ?? []).map { row in
            guard case .object(var members) = row, let content = members["content"] else { return row }
            members["content"] = redactor.apply(content).value
            return .object(members)
        }
        return ["rows": .array(rows)]
    }
}

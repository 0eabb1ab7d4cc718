import RampartCore
import RampartMCP
import RampartStore

/// `search_resources`: full-text hits in the conversation's scope, best first. Where the caller
/// may not see a collection whole, its documents are matched and ranked on what the caller sees
/// (no search oracle for hidden values) and snippets are rebuilt from the redacted document;
/// detection runs on a snippet's text before any marker goes in.
struct SearchTool: Sendable {
    let calls: CoalescedCalls

    func run(
        _ text: String,
        collection: CollectionName?,
        limit: Int,
        handle: String?,
        route: CallRoute
    ) async throws -> ToolOutcome {
        let hiding = Dictionary(
            Set(route.tenant.redactions.map(\.collection)).filter { collection == nil || $0 == collection?.rawValue }
                .compactMap { name in route.redactor(name).isEmpty ? nil : (name, route.redactor(name).sqlRules) },
            uniquingKeysWith: { first, _ in first }
        )
        let rebuild = !hiding.isEmpty || route.tenant.piiDetection
        var identity = route.identity(
            tool: ToolCatalog.searchResources.name,
            operation: ToolCatalog.searchResources.name,
            handle: handle
        )
        let call = { (identity: CallIdentity) in
            CallStore.Search(
                identity: identity,
                text: text,
                collection: collection,
                limit: limit,
                hiding: hiding,
                bodies: rebuild
            )
        }
        let tenant = route.principal.tenant
        if route.tenant.piiDetection,
            let preview = try await calls.store.search(
                [call(identity)],
                tenant: tenant,
                until: route.deadline,
                preview: true
            )
            .first, preview.outcome == .ok
        {
            let (_, counts) = try hits(preview.payload, text: text, rebuild: true, route: route)
            if let counts { identity.details["detected"] = counts }
        }
        let answer = try await calls.search(call(identity), tenant: tenant, until: route.deadline)
        switch try route.settle(answer, in: identity.conversation) {
        case .failure(let refusal):
            return refusal.outcome
        case .success(let (_, payload)):
            return .success(["hits": .array(try hits(payload, text: text, rebuild: rebuild, route: route).hits)])
        }
    }

    /// `{uri, score, snippet}` of each hit, and the detection counts of the snippets.
    private func hits(
        _ payload: String?,
        text: String,
        rebuild: Bool,
        route: CallRoute
    ) throws -> (hits: [JSONValue], counts: JSONValue?) {
        var found: [PIIDetector.Kind: Int] = [:]
        var hits: [JSONValue] = []
        for entry in try JSONParser.parse(payload ?? "[]", maxDepth: 512).arrayValue ?? [] {
            guard let fields = entry.arrayValue, fields.count >= 4, let uriText = fields[0].stringValue,
                let uri = try? ResourceURI(parsing: uriText)
            else { continue }
            var snippet = fields[2].stringValue ?? ""
            if rebuild {
                let shown = route.redactor(uri.collection.rawValue).apply(fields[3]).value
                var source = Snippet.source(in: shown, query: text) ?? ""
                if route.tenant.piiDetection { source = PIIDetector().scan(source, found: &found) }
                snippet = Snippet.window(of: source, query: text)
            }
            let score = fields[1].doubleValue.map(JSONValue.double) ?? fields[1]
            hits.append(["uri": .string(uriText), "score": score, "snippet": .string(snippet)])
        }
        return (hits, Detection.counts(found))
    }
}

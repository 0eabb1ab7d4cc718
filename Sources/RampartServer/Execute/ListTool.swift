import RampartCore
import RampartMCP
import RampartStore

/// `list_resources` and `resources/list`: one page of the documents in the conversation's scope,
/// in (collection, id) order, with a cursor bound to the tenant and the listing.
struct ListTool: Sendable {
    let calls: CoalescedCalls

    func run(
        collection: CollectionName?,
        cursor: String?,
        limit: Int,
        handle: String?,
        tool: String?,
        route: CallRoute
    ) async throws -> ToolOutcome {
        let tenant = route.principal.tenant
        let after = try cursor.map { text throws(RampartError) in
            try ResourceCursor(decoding: text, tenant: tenant, collection: collection)
        }
        let identity = route.identity(tool: tool, operation: ToolCatalog.listResources.name, handle: handle)
        let call = CallStore.List(
            identity: identity,
            collection: collection,
            after: after.map { ($0.afterCollection, $0.afterID) },
            limit: limit
        )
        let answer = try await calls.list(call, tenant: tenant, until: route.deadline)
        switch try route.settle(answer, in: identity.conversation) {
        case .failure(let refusal):
            return refusal.outcome
        case .success(let (_, payload)):
            let entries = try JSONParser.parse(payload ?? "[]").arrayValue ?? []
            let page = entries.prefix(limit).compactMap { entry -> (String, String, JSONValue)? in
                guard let fields = entry.arrayValue, fields.count == 4, let collection = fields[0].stringValue,
                    let id = fields[1].stringValue
                else { return nil }
                return (
                    collection, id,
                    [
                        "uri": .string("tenant://\(tenant)/\(collection)/\(id)"), "version": fields[2],
                        "updatedAt": fields[3],
                    ]
                )
            }
            var result: [String: JSONValue] = ["resources": .array(page.map(\.2))]
            if entries.count > limit, let last = page.last {
                result["nextCursor"] = .string(
                    ResourceCursor(tenant: tenant, collection: collection, afterCollection: last.0, afterID: last.1)
                        .encoded
                )
            }
            return .success(.object(result))
        }
    }
}

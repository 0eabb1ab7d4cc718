import RampartCore
import RampartMCP
import RampartStore

/// `read_resource` and `resources/read`: one document as the caller may see it, one round trip
/// (two when the tenant has detection on: its counts must be in the call's own audit event, so
/// the answer is previewed first).
struct ReadTool: Sendable {
    let calls: CoalescedCalls

    func run(_ uri: ResourceURI, handle: String?, tool: String?, route: CallRoute) async throws -> ToolOutcome {
        let redactor = route.redactor(uri.collection.rawValue)
        var identity = route.identity(tool: tool, operation: ToolCatalog.readResource.name, handle: handle)
        let call = { (identity: CallIdentity) in
            CallStore.Read(identity: identity, uri: uri, rules: redactor.isEmpty ? nil : redactor.sqlRules)
        }
        if route.tenant.piiDetection,
            let preview = try await calls.store.previewRead(
                [call(identity)],
                tenant: route.principal.tenant,
                until: route.deadline
            )
            .first, preview.outcome == .ok, let payload = preview.payload
        {
            let shown = try Self.result(preview.detail, payload, uri: uri, redactor: redactor)
            if let counts = Detection.scan(shown).counts { identity.details["detected"] = counts }
        }
        let answer = try await calls.read(call(identity), tenant: route.principal.tenant, until: route.deadline)
        switch try route.settle(answer, in: identity.conversation) {
        case .failure(let refusal):
            return refusal.outcome
        case .success(let (detail, payload)):
            let shown = try Self.result(detail, payload ?? "{}", uri: uri, redactor: redactor)
            return .success(route.tenant.piiDetection ? Detection.scan(shown).value : shown)
        }
    }

    /// `{uri, version, updatedAt, content}`, the content as `redactor` lets the caller see it.
    static func result(_ detail: JSONValue, _ payload: String, uri: ResourceURI, redactor: Redactor) throws -> JSONValue
    {
        [
            "uri": .string(uri.description),
            "version": detail["version"] ?? .null,
            "updatedAt": detail["updated_at"] ?? .null,
            "content": redactor.apply(try JSONParser.parse(payload, maxDepth: 512)).value,
        ]
    }
}

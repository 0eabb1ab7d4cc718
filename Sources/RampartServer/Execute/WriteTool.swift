import RampartCore
import RampartMCP
import RampartStore

/// `write_resource`: create or replace a document, optionally only at a version. A caller who
/// may not see the whole document writes back what it read: the fields it could not see are
/// kept as stored (read first, without a lock, and written only at the version they came from;
/// a concurrent change makes it read again), never overwritten with placeholders or dropped.
struct WriteTool: Sendable {
    static let attempts = 3

    let calls: CoalescedCalls

    func run(
        _ uri: ResourceURI,
        content: JSONValue,
        ifVersion: Int64?,
        handle: String?,
        route: CallRoute
    ) async throws -> ToolOutcome {
        let hiding = route.redactor(uri.collection.rawValue)
        var identity = route.identity(
            tool: ToolCatalog.writeResource.name,
            operation: ToolCatalog.writeResource.name,
            handle: handle
        )
        let tenant = route.principal.tenant
        for attempt in 1...Self.attempts {
            var body = content
            var expected: Int64?
            if !hiding.isEmpty {
                let stored = try await calls.store.peek(
                    CallStore.Read(identity: identity, uri: uri, rules: nil),
                    tenant: tenant,
                    until: route.deadline
                )
                if let stored {
                    guard let merged = hiding.preserving(try JSONParser.parse(stored.body, maxDepth: 512), into: body)
                    else {
                        throw ToolRefusal(
                            message: "invalid argument \"content\": it would remove fields you cannot see; keep the "
                                + "objects and array entries that hold them",
                            layer: .sanitize,
                            reason: "write would remove hidden fields"
                        )
                    }
                    body = merged.value
                    identity.details["preserved"] = .int(Int64(merged.preserved))
                }
                if ifVersion == nil { expected = stored?.version ?? 0 }
            }
            let call = CallStore.Write(
                identity: identity,
                uri: uri,
                content: body,
                ifVersion: ifVersion,
                expectVersion: expected
            )
            let answer = try await calls.write(call, tenant: tenant, until: route.deadline)
            // The document changed between the read and the write: merge again from the new one.
            if answer.outcome == .conflict, expected != nil, attempt < Self.attempts { continue }
            switch try route.settle(answer, in: identity.conversation) {
            case .failure(let refusal):
                return refusal.outcome
            case .success(let (detail, _)):
                return .success(["uri": .string(uri.description), "version": detail["version"] ?? .null])
            }
        }
        return .failure("version conflict: the document is not at version \(ifVersion ?? 0)")
    }
}

import Logging
import PostgresNIO
import RampartCore
import RampartMCP
import RampartStore

/// Answers one authenticated JSON-RPC request in either era. Tools and resources share one
/// access path: scopes first (403 naming every scope the call needs), then the tenant's store.
struct MCPDispatcher: Sendable {
    static let instructions =
        "Rampart serves this tenant's JSON documents. Resource URIs are tenant://{tenant}/{collection}/{id}. "
        + "Use open_conversation to scope a task to the resources it needs."

    let database: Database
    /// When the request must be answered: every database wait ends by then.
    let deadline: ContinuousClock.Instant
    let principal: Principal
    /// The tenant's settings (rate limits) as authentication read them.
    let tenant: TenantAccess
    let era: ProtocolEra
    /// The handshake-era session of the request (already resumed), if any.
    let sessionID: String?
    let audit: AuditActor
    /// The request's audit context; the dispatcher adds the tool and resource it learns.
    var context: RequestAudit
    let logger: Logger

    private var shaper: ResultShaper { ResultShaper(era: era) }

    private var executor: ToolExecutor {
        ToolExecutor(
            database: database,
            deadline: deadline,
            principal: principal,
            logger: logger,
            sessionID: sessionID,
            audit: audit,
            context: context,
            tenant: tenant
        )
    }

    private var rateGate: RateGate {
        RateGate(database: database, deadline: deadline, principal: principal, tenant: tenant, logger: logger)
    }

    /// The key of the rate-limit cell of the conversation a call will run in; opening one without
    /// a handle or session runs in none.
    private func conversationKey(handle: String?, opening: Bool) -> String? {
        let reference = ConversationReference(handle: handle, sessionID: sessionID)
        return opening && reference == .implicit ? nil : reference.key(for: principal)
    }

    func handle(_ request: JSONRPCRequest) async -> MCPReply {
        var dispatcher = self
        dispatcher.context.method = request.method
        return await dispatcher.dispatch(request)
    }

    private mutating func dispatch(_ request: JSONRPCRequest) async -> MCPReply {
        do {
            switch (request.method, era) {
            case ("server/discover", .stateless):
                await audit.record(context.allow(.execute, "discovered"))
                return .result(request.id, discover())
            case ("ping", .handshake):
                await audit.record(context.allow(.execute, "ping"))
                return .result(request.id, .object([:]))
            case ("tools/list", _):
                try refuseCursor(request)
                let tools = ToolCatalog.visible(to: principal.scopes)
                await audit.record(
                    context.allow(.execute, "listed tools", details: ["tools": .array(tools.map { .string($0.name) })])
                )
                return .result(request.id, shaper.cacheable(["tools": .array(tools.map(\.json))], ttlMs: 60_000))
            case ("tools/call", _):
                return try await callTool(request)
            case ("resources/list", _):
                return try await listResources(request)
            case ("resources/templates/list", _):
                try requireScopes([.read], request)
                try refuseCursor(request)
                await audit.record(context.allow(.execute, "listed templates"))
                let template: JSONValue = [
                    "uriTemplate": .string("tenant://\(principal.tenant)/{collection}/{id}"),
                    "name": "document",
                    "title": "A JSON document of this tenant",
                    "mimeType": "application/json",
                ]
                return .result(request.id, shaper.cacheable(["resourceTemplates": [template]], ttlMs: 60_000))
            case ("resources/read", _):
                return try await readResource(request)
            default:
                throw JSONRPCError(.methodNotFound, "Method not found", data: .string(request.method))
            }
        } catch var error as JSONRPCError {
            error.id = request.id
            await audit.record(context.deny(.sanitize, error.message))
            return .error(error, era: era)
        } catch let error as RateLimited {
            await audit.record(
                context.deny(.rate, "\(error.limit) limit", details: ["retry_after_ms": .int(error.retryAfterMs)])
            )
            return error.reply(id: request.id)
        } catch let error as BudgetRefusal {
            await audit.record(context.deny(.budget, "\(error.budget) budget exhausted"))
            return BudgetExhausted(refusal: error).reply(id: request.id)
        } catch let error as InsufficientScope {
            await audit.record(
                context.deny(
                    .access,
                    "insufficient scope",
                    details: [
                        "required": .array(error.required.map { .string($0.rawValue) }),
                        "granted": .array(principal.scopes.sorted().map { .string($0.rawValue) }),
                    ]
                )
            )
            return error.reply(id: request.id)
        } catch {
            let mapped = DatabaseErrors.map(error)
            DatabaseErrors.log(error, "request failed", logger: logger)
            if mapped.code == .unavailable {
                // Limits, budgets and the audit trail live in the database: without it, refuse.
                // Nothing committed: the transaction failed, or never started.
                let reason = ContinuousClock.now >= deadline ? "deadline exceeded" : "database unavailable"
                await audit.record(context.deny(.execute, reason))
                return .unavailable(id: request.id, requestID: context.requestID)
            }
            await audit.record(context.deny(.execute, "internal error"))
            return .error(
                JSONRPCError(
                    .internalError,
                    "internal error",
                    data: ["requestId": .string(context.requestID)],
                    id: request.id
                ),
                era: era
            )
        }
    }

    private func discover() -> JSONValue {
        shaper.cacheable(
            [
                "supportedVersions": .array(ProtocolEra.statelessVersions.map(JSONValue.string)),
                "capabilities": ServerCapabilities.json,
                "instructions": .string(Self.instructions),
            ],
            ttlMs: 3_600_000,
            isPrivate: false
        )
    }

    /// These lists are never paginated, so no cursor can be one of theirs.
    private func refuseCursor(_ request: JSONRPCRequest) throws(JSONRPCError) {
        if let cursor = request.params["cursor"], cursor != .null {
            throw JSONRPCError(.invalidParams, "invalid cursor")
        }
    }

    private func requireScopes(_ scopes: [Scope], _ request: JSONRPCRequest) throws(InsufficientScope) {
        guard scopes.allSatisfy(principal.scopes.contains) else { throw InsufficientScope(required: scopes) }
    }

    private mutating func callTool(_ request: JSONRPCRequest) async throws -> MCPReply {
        guard let name = request.params["name"]?.stringValue else {
            throw JSONRPCError(.invalidParams, "params.name must be a tool name")
        }
        guard let tool = ToolCatalog.named(name) else {
            throw JSONRPCError(.invalidParams, "Unknown tool: \(TextSanitizer.quoted(name))")
        }
        context.tool = tool.name
        try requireScopes(tool.requiredScopes, request)
        let arguments: [String: JSONValue]
        switch request.params["arguments"] {
        case .none, .some(.null): arguments = [:]
        case .some(.object(let members)): arguments = members
        default:
            await audit.record(context.deny(.sanitize, "arguments are not an object"))
            return .result(request.id, toolResult(.failure("invalid arguments: expected an object")))
        }
        let outcome: ToolOutcome
        do {
            let (call, conversation) = try ToolCall.parse(tool, arguments: arguments)
            var opening = false
            if case .openConversation = call { opening = true }
            try await rateGate.admit(
                conversation: conversationKey(handle: conversation, opening: opening),
                resource: call.resource?.description
            )
            outcome = try await executor.run(call, conversation: conversation)
        } catch let error as RampartError where error.code == .invalidArgument {
            await audit.record(context.deny(.sanitize, error.message))
            outcome = .failure(error.message)
        }
        return .result(request.id, toolResult(outcome))
    }

    private func toolResult(_ outcome: ToolOutcome) -> JSONValue {
        switch outcome {
        case .success(let structured):
            return shaper.plain([
                "content": [["type": "text", "text": .string(structured.jsonText)]],
                "structuredContent": structured,
                "isError": false,
            ])
        case .failure(let message):
            return shaper.plain(["content": [["type": "text", "text": .string(message)]], "isError": true])
        }
    }

    private func listResources(_ request: JSONRPCRequest) async throws -> MCPReply {
        try requireScopes([.read], request)
        let cursor = request.params["cursor"]
        var arguments: [String: JSONValue] = ["limit": 100]
        if let cursor, cursor != .null { arguments["cursor"] = cursor }
        let outcome: ToolOutcome
        do {
            let (call, _) = try ToolCall.parse(ToolCatalog.listResources, arguments: arguments)
            try await rateGate.admit(conversation: conversationKey(handle: nil, opening: false), resource: nil)
            outcome = try await executor.run(call, conversation: nil)
        } catch let error as RampartError where error.code == .invalidArgument {
            throw JSONRPCError(.invalidParams, "invalid cursor")
        }
        guard case .success(let page) = outcome else { throw JSONRPCError(.invalidParams, "invalid cursor") }
        let resources: [JSONValue] = (page["resources"]?.arrayValue ?? []).map { summary in
            let uri = summary["uri"]?.stringValue ?? ""
            return [
                "uri": .string(uri),
                "name": .string(String(uri.dropFirst("tenant://\(principal.tenant)/".count))),
                "mimeType": "application/json",
            ]
        }
        var result: [String: JSONValue] = ["resources": .array(resources)]
        if let next = page["nextCursor"] { result["nextCursor"] = next }
        return .result(request.id, shaper.cacheable(result, ttlMs: 0))
    }

    private func readResource(_ request: JSONRPCRequest) async throws -> MCPReply {
        try requireScopes([.read], request)
        let outcome: ToolOutcome
        do {
            let (call, _) = try ToolCall.parse(
                ToolCatalog.readResource,
                arguments: ["uri": request.params["uri"] ?? .null]
            )
            try await rateGate.admit(
                conversation: conversationKey(handle: nil, opening: false),
                resource: call.resource?.description
            )
            outcome = try await executor.run(call, conversation: nil)
        } catch let error as RampartError where error.code == .invalidArgument {
            throw JSONRPCError(.invalidParams, error.message)
        }
        guard case .success(let document) = outcome, let uri = document["uri"], let content = document["content"] else {
            // The same error, byte for byte, whether the document is missing, foreign or out of scope
            // (the executor has audited which it was).
            let code: JSONRPCError.Code = shaper.isStateless ? .invalidParams : .resourceNotFound
            return .error(JSONRPCError(code, "resource not found", id: request.id), era: era)
        }
        let contents: JSONValue = [["uri": uri, "mimeType": "application/json", "text": .string(content.jsonText)]]
        return .result(request.id, shaper.cacheable(["contents": contents], ttlMs: 0))
    }
}

/// A call whose scopes the principal lacks: 403 with a challenge naming all of them (A5, A6).
struct InsufficientScope: Error, Sendable {
    let required: [Scope]

    func reply(id: JSONRPCID?) -> MCPReply {
        let scopes = required.map(\.rawValue).joined(separator: " ")
        let error = JSONRPCError(
            .forbidden,
            "insufficient scope",
            data: ["requiredScopes": .array(required.map { .string($0.rawValue) })],
            id: id
        )
        return MCPReply(
            status: 403,
            headers: ["WWW-Authenticate": #"Bearer error="insufficient_scope", scope="\#(scopes)""#],
            body: error.body()
        )
    }
}

enum ServerCapabilities {
    static let json: JSONValue = [
        "tools": ["listChanged": false],
        "resources": ["listChanged": false, "subscribe": false],
    ]
}

import Logging
import RampartCore
import RampartMCP
import RampartStore

/// What answering requests needs beyond the request itself: the stores, the audit trail, the
/// caches shared by every request of the process.
struct MCPServices: Sendable {
    let calls: CoalescedCalls
    let conversations: ConversationStore
    let audit: AuditActor
    let sessions: SessionCache
    let tools: ToolListCache

    /// The handshake-era sessions of one request.
    func sessions(for route: CallRoute, logger: Logger) -> SessionManager {
        SessionManager(conversations: conversations, cache: sessions, route: route, audit: audit, logger: logger)
    }
}

/// Answers one authenticated JSON-RPC request in either era. Tools and resources share one
/// access path: scopes first (403 naming every scope the call needs), then one handler per tool,
/// each one round trip to its call function (which audits what it decides).
struct MCPDispatcher: Sendable {
    static let instructions =
        "Rampart serves this tenant's JSON documents. Resource URIs are tenant://{tenant}/{collection}/{id}. "
        + "Use open_conversation to scope a task to the resources it needs."

    let services: MCPServices
    /// The request's principal, conversation and deadline; its audit context gains the method
    /// and tool as the dispatcher learns them.
    var route: CallRoute
    let era: ProtocolEra
    let logger: Logger

    private var shaper: ResultShaper { ResultShaper(era: era) }
    private var principal: Principal { route.principal }
    private var audit: AuditActor { services.audit }

    func handle(_ request: JSONRPCRequest) async -> MCPReply {
        var dispatcher = self
        dispatcher.route.context.method = request.method
        return await dispatcher.dispatch(request)
    }

    private mutating func dispatch(_ request: JSONRPCRequest) async -> MCPReply {
        do {
            switch (request.method, era) {
            case ("server/discover", .stateless):
                await audit.record(route.context.allow(.execute, "discovered"))
                return .result(request.id, discover())
            case ("ping", .handshake):
                await audit.record(route.context.allow(.execute, "ping"))
                return .result(request.id, .object([:]))
            case ("tools/list", _):
                try refuseCursor(request)
                let tools = ToolCatalog.visible(to: principal.scopes)
                await audit.record(
                    route.context.allow(
                        .execute,
                        "listed tools",
                        details: ["tools": .array(tools.map { .string($0.name) })]
                    )
                )
                return MCPReply.result(request.id, encoded: services.tools.result(for: principal.scopes, era: era))
            case ("tools/call", _):
                return try await callTool(request)
            case ("resources/list", _):
                return try await listResources(request)
            case ("resources/templates/list", _):
                try requireScopes([.read])
                try refuseCursor(request)
                await audit.record(route.context.allow(.execute, "listed templates"))
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
            await audit.record(route.context.deny(.sanitize, error.message))
            return .error(error, era: era)
        } catch let error as RateLimited {
            return error.reply(id: request.id)  // audited by the call's function
        } catch let error as BudgetRefusal {
            return BudgetExhausted(refusal: error).reply(id: request.id)  // audited by the call's function
        } catch is SessionGone {
            return MCPReply(
                status: 404,
                body: JSONRPCError(.invalidRequest, "Session not found", id: request.id).body()
            )
        } catch let error as InsufficientScope {
            await audit.record(
                route.context.deny(
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
                // Nothing committed: the call's statement failed, or never ran.
                let reason = ContinuousClock.now >= route.deadline ? "deadline exceeded" : "database unavailable"
                await audit.record(route.context.deny(.execute, reason))
                return .unavailable(id: request.id, requestID: route.context.requestID)
            }
            await audit.record(route.context.deny(.execute, "internal error"))
            return .error(
                JSONRPCError(
                    .internalError,
                    "internal error",
                    data: ["requestId": .string(route.context.requestID)],
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

    private func requireScopes(_ scopes: [Scope]) throws(InsufficientScope) {
        guard scopes.allSatisfy(principal.scopes.contains) else { throw InsufficientScope(required: scopes) }
    }

    private mutating func callTool(_ request: JSONRPCRequest) async throws -> MCPReply {
        guard let name = request.params["name"]?.stringValue else {
            throw JSONRPCError(.invalidParams, "params.name must be a tool name")
        }
        guard let tool = ToolCatalog.named(name) else {
            throw JSONRPCError(.invalidParams, "Unknown tool: \(TextSanitizer.quoted(name))")
        }
        route.context.tool = tool.name
        try requireScopes(tool.requiredScopes)
        let arguments: [String: JSONValue]
        switch request.params["arguments"] {
        case .none, .some(.null): arguments = [:]
        case .some(.object(let members)): arguments = members
        default:
            await audit.record(route.context.deny(.sanitize, "arguments are not an object"))
            return .result(request.id, toolResult(.failure("invalid arguments: expected an object")))
        }
        let outcome: ToolOutcome
        do {
            outcome = try await run(try ToolCall.parse(tool, arguments: arguments))
        } catch let error as RampartError where error.code == .invalidArgument {
            await audit.record(route.context.deny(.sanitize, error.message))
            outcome = .failure(error.message)
        } catch let refusal as ToolRefusal {
            await audit.record(route.context.deny(refusal.layer, refusal.reason))
            outcome = .failure(refusal.message)
        }
        return .result(request.id, toolResult(outcome))
    }

    private func run(_ parsed: (call: ToolCall, conversation: String?)) async throws -> ToolOutcome {
        let (call, handle) = parsed
        switch call {
        case .read(let uri):
            return try await ReadTool(calls: services.calls).run(
                uri,
                handle: handle,
                tool: call.operation,
                route: route
            )
        case .list(let collection, let cursor, let limit):
            return try await ListTool(calls: services.calls).run(
                collection: collection,
                cursor: cursor,
                limit: limit,
                handle: handle,
                tool: call.operation,
                route: route
            )
        case .search(let text, let collection, let limit):
            return try await SearchTool(calls: services.calls).run(
                text,
                collection: collection,
                limit: limit,
                handle: handle,
                route: route
            )
        case .write(let uri, let content, let ifVersion):
            return try await WriteTool(calls: services.calls).run(
                uri,
                content: content,
                ifVersion: ifVersion,
                handle: handle,
                route: route
            )
        case .query(let query):
            return try await QueryTool(calls: services.calls).run(query, handle: handle, route: route)
        case .openConversation(let scope, let purpose):
            return try await OpenConversationTool(conversations: services.conversations).run(
                scope: scope,
                purpose: purpose,
                handle: handle,
                route: route
            )
        }
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
        try requireScopes([.read])
        let cursor = request.params["cursor"]
        var arguments: [String: JSONValue] = ["limit": 100]
        if let cursor, cursor != .null { arguments["cursor"] = cursor }
        let outcome: ToolOutcome
        do {
            guard
                case .list(let collection, let cursor, let limit) = try ToolCall.parse(
                    ToolCatalog.listResources,
                    arguments: arguments
                ).call
            else { throw JSONRPCError(.invalidParams, "invalid cursor") }
            outcome = try await ListTool(calls: services.calls).run(
                collection: collection,
                cursor: cursor,
                limit: limit,
                handle: nil,
                tool: nil,
                route: route
            )
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
        try requireScopes([.read])
        let outcome: ToolOutcome
        do {
            guard
                case .read(let uri) = try ToolCall.parse(
                    ToolCatalog.readResource,
                    arguments: ["uri": request.params["uri"] ?? .null]
                ).call
            else { throw JSONRPCError(.invalidParams, "invalid uri") }
            outcome = try await ReadTool(calls: services.calls).run(uri, handle: nil, tool: nil, route: route)
        } catch let error as RampartError where error.code == .invalidArgument {
            throw JSONRPCError(.invalidParams, error.message)
        }
        guard case .success(let document) = outcome, let uri = document["uri"], let content = document["content"] else {
            // The same error, byte for byte, whether the document is missing, foreign or out of scope
            // (the call's function has audited which it was).
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

import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import RampartCore
import RampartMCP
import RampartStore

/// `/mcp`: the HTTP guard (Origin, size, JSON, protocol-version routing and the stateless header
/// checks), then authentication on every request, then the era's session rules and dispatch.
struct MCPEndpoint: Sendable {
    static let maxBodyBytes = 1 << 20
    /// How long one request may take, database waits included.
    static let deadline: Duration = .seconds(8)

    let configuration: ServerConfiguration
    let authenticator: Authenticator
    let services: MCPServices
    private var audit: AuditActor { services.audit }
    let metadataURL: String

    func register(on router: Router<BasicRequestContext>) {
        router.post("/mcp") { request, context in
            await measured { audit, deadline in
                await post(request, context: context, audit: &audit, deadline: deadline)
            }
        }
        for method in [HTTPRequest.Method.get, .delete, .put, .patch] {
            router.on("/mcp", method: method) { request, context in
                await measured { audit, deadline in
                    await withoutBody(request, context: context, audit: &audit, deadline: deadline)
                }
            }
        }
    }

    /// Runs one request with a fresh audit context and its deadline, and counts it in the
    /// request metrics. The deadline bounds every database wait of the request (`Database`):
    /// past it the database stops the work and the call is answered 503 with no effect.
    private func measured(
        _ handle: (inout RequestAudit, ContinuousClock.Instant) async -> Response
    ) async -> Response {
        let start = ContinuousClock.now
        var audit = RequestAudit(requestID: RandomHandle.make())
        let response = await handle(&audit, start + Self.deadline)
        RampartMetrics.request(method: audit.method, status: response.status.code, duration: .now - start)
        return response
    }

    private func post(
        _ request: Request,
        context: BasicRequestContext,
        audit: inout RequestAudit,
        deadline: ContinuousClock.Instant
    ) async -> Response {
        var request = request
        var logger = context.logger
        logger[metadataKey: "rampart.request_id"] = .string(audit.requestID)

        if let (refusal, reason) = originRefusal(request) {
            return await refuse(refusal, audit.deny(.sanitize, reason))
        }
        let era = ProtocolEra(header: request.headers[values: .mcpProtocolVersion].first)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.maxBodyBytes {
            return await refuse(tooLarge(), audit.deny(.sanitize, "body too large"))
        }
        let bytes: [UInt8]
        do {
            bytes = Array(buffer: try await request.collectBody(upTo: Self.maxBodyBytes))
        } catch is NIOTooManyBytesError {
            return await refuse(tooLarge(), audit.deny(.sanitize, "body too large"))
        } catch {
            let reply = MCPReply.error(JSONRPCError(.invalidRequest, "could not read the request body"), era: era)
            return await refuse(respond(reply, request), audit.deny(.sanitize, "unreadable body"))
        }

        let message: JSONRPCMessage
        do {
            message = try JSONRPCMessage(try JSONParser.parse(bytes))
        } catch {
            let rpcError =
                switch error {
                case let error as JSONRPCError: error
                case let error as RampartError: JSONRPCError(.parseError, "Parse error: \(error.message)")
                default: JSONRPCError(.parseError, "Parse error")
                }
            return await refuse(respond(.error(rpcError, era: era), request), audit.deny(.sanitize, rpcError.message))
        }
        if case .request(let call) = message {
            audit.method = call.method
        } else if case .notification(let method, _) = message {
            audit.method = method
        }

        // The stateless era's envelope and header checks come before authentication, as in the
        // reference SDK, so a misconfigured client learns what it got wrong.
        if let refusal = envelopeRefusal(message, era: era, request: request) {
            return await refuse(respond(.error(refusal, era: era), request), audit.deny(.sanitize, refusal.message))
        }

        let principal: Principal
        let tenant: TenantAccess
        switch await authenticate(request, id: message.requestID, audit: audit, deadline: deadline, logger: logger) {
        case .success(let authenticated, let access): (principal, tenant) = (authenticated, access)
        case .failure(let refusal): return refusal
        }
        audit.authenticated(as: principal)
        logger[metadataKey: "rampart.tenant"] = .string(principal.tenant.rawValue)

        switch era {
        case .handshake(let version):
            let reply = await handshake(
                message,
                version: version,
                principal: principal,
                tenant: tenant,
                request: request,
                audit: audit,
                deadline: deadline,
                logger: logger
            )
            return respond(reply, request, requestID: audit.requestID)
        default:
            guard case .request(let call) = message else {
                await self.audit.record(audit.allow(.execute, "notification accepted"))
                return respond(.accepted(), request, requestID: audit.requestID)
            }
            let route = CallRoute(
                principal: principal,
                tenant: tenant,
                context: audit,
                sessionID: nil,
                deadline: deadline
            )
            let dispatcher = MCPDispatcher(services: services, route: route, era: era, logger: logger)
            return respond(await dispatcher.handle(call), request, requestID: audit.requestID)
        }
    }

    /// The stateless envelope checks, an unsupported version, or a repeated version header.
    private func envelopeRefusal(_ message: JSONRPCMessage, era: ProtocolEra, request: Request) -> JSONRPCError? {
        switch (era, message) {
        case (.stateless, .request(let call)), (.unsupported, .request(let call)):
            do { try StatelessEnvelope.validate(call, headers: routingHeaders(request)) } catch {
                return error
            }
            return nil
        case (.unsupported(let requested), _):
            return JSONRPCError(
                .unsupportedProtocolVersion,
                "Unsupported protocol version",
                data: [
                    "supported": .array(ProtocolEra.statelessVersions.map(JSONValue.string)),
                    "requested": .string(requested),
                ]
            )
        case (.handshake, _) where request.headers[values: .mcpProtocolVersion].count > 1:
            return JSONRPCError(.invalidRequest, "MCP-Protocol-Version appears more than once")
        default:
            return nil
        }
    }

    private func handshake(
        _ message: JSONRPCMessage,
        version: String,
        principal: Principal,
        tenant: TenantAccess,
        request: Request,
        audit context: RequestAudit,
        deadline: ContinuousClock.Instant,
        logger: Logger
    ) async -> MCPReply {
        var context = context
        let sessionID = request.headers[values: .mcpSessionID].first
        context.conversation = sessionID
        if case .request(let call) = message { context.method = call.method }
        let route = CallRoute(
            principal: principal,
            tenant: tenant,
            context: context,
            sessionID: sessionID,
            deadline: deadline
        )
        let sessions = services.sessions(for: route, logger: logger)
        if case .request(let call) = message, call.method == "initialize" {
            return await sessions.initialize(call)
        }
        guard let sessionID else {
            await audit.record(context.deny(.context, "missing session id"))
            return .error(
                JSONRPCError(.invalidRequest, "Bad Request: Missing session ID", id: message.requestID),
                era: .handshake(version: version)
            )
        }
        // A data call checks its session in its own statement (one round trip); anything else
        // checks it first, from the cache or the database.
        let checksOwnSession = message.checksItsOwnSession
        if !checksOwnSession, let refusal = await sessions.resume(sessionID, requestID: message.requestID) {
            return refusal
        }
        guard case .request(let call) = message else {
            await audit.record(context.allow(.execute, "notification accepted"))
            return MCPReply(status: 202, headers: [MCPReply.sessionHeader: sessionID])
        }
        var reply = await MCPDispatcher(
            services: services,
            route: route,
            era: .handshake(version: version),
            logger: logger
        ).handle(call)
        // A data call refused before its statement ran (arguments, scopes) answers for a session
        // that is gone like any other request: 404 first.
        if checksOwnSession, !route.trace.wasAnswered, reply.status < 500,
            let refusal = await sessions.resume(sessionID, requestID: message.requestID)
        {
            return refusal
        }
        if reply.status == 404 { await sessions.forget(sessionID) }
        reply.headers[MCPReply.sessionHeader] = sessionID
        return reply
    }

    /// Records a refusal of the guard and returns its response.
    private func refuse(_ response: Response, _ event: AuditEvent) async -> Response {
        await audit.record(event)
        var response = response
        response.headers[.requestID] = event.requestID
        return response
    }

    /// Every method but POST: DELETE ends a handshake-era session; GET (no standalone stream in
    /// either era), HEAD (answered as GET), PUT and PATCH get 405 naming what is allowed.
    private func withoutBody(
        _ request: Request,
        context: BasicRequestContext,
        audit: inout RequestAudit,
        deadline: ContinuousClock.Instant
    ) async -> Response {
        audit.method = request.method == .delete ? "DELETE" : request.method.rawValue
        if let (refusal, reason) = originRefusal(request) {
            return await refuse(refusal, audit.deny(.sanitize, reason))
        }
        let era = ProtocolEra(header: request.headers[values: .mcpProtocolVersion].first)
        let isHandshake = if case .handshake = era { true } else { false }
        guard request.method == .delete, isHandshake, let sessionID = request.headers[values: .mcpSessionID].first
        else {
            return await refuse(
                Response(status: .methodNotAllowed, headers: [.allow: isHandshake ? "POST, DELETE" : "POST"]),
                audit.deny(.sanitize, "method not allowed")
            )
        }
        audit.conversation = sessionID
        let principal: Principal
        let tenant: TenantAccess
        switch await authenticate(request, id: nil, audit: audit, deadline: deadline, logger: context.logger) {
        case .success(let authenticated, let access): (principal, tenant) = (authenticated, access)
        case .failure(let refusal): return refusal
        }
        audit.authenticated(as: principal)
        let route = CallRoute(
            principal: principal,
            tenant: tenant,
            context: audit,
            sessionID: sessionID,
            deadline: deadline
        )
        let sessions = services.sessions(for: route, logger: context.logger)
        let ended = await sessions.end(sessionID)
        return respond(ended ?? MCPReply(status: 200), request, requestID: audit.requestID)
    }

    private enum Authenticated {
        case success(Principal, TenantAccess)
        case failure(Response)
    }

    /// The request's principal, or the 401 / 403 / 503 that answers it instead.
    private func authenticate(
        _ request: Request,
        id: JSONRPCID?,
        audit context: RequestAudit,
        deadline: ContinuousClock.Instant,
        logger: Logger
    ) async -> Authenticated {
        do {
            let (principal, tenant) = try await authenticator.authenticate(
                authorization: request.headers[values: .authorization],
                queryNames: request.uri.queryParameters.map { String($0.key) },
                deadline: deadline
            )
            return .success(principal, tenant)
        } catch {
            var context = context
            if let tenant = error.tenant { context.tenant = tenant.rawValue }
            if error.kind == .unavailable {
                // Not a verdict on the token: the tenant could not be looked up in time.
                logger.warning("tenant lookup failed: database unavailable")
                await audit.record(context.deny(.execute, "database unavailable"))
            } else {
                logger.info("authentication refused", metadata: ["rampart.reason": .string(error.reason)])
                await audit.record(context.deny(.auth, error.reason))
            }
            return .failure(respond(authReply(error, id: id), request, requestID: context.requestID))
        }
    }

    // MARK: - Replies

    private func routingHeaders(_ request: Request) -> StatelessEnvelope.Headers {
        StatelessEnvelope.Headers(
            protocolVersion: request.headers[values: .mcpProtocolVersion],
            method: request.headers[values: .mcpMethod],
            name: request.headers[values: .mcpName],
            parameterNames: request.headers.map(\.name.canonicalName).filter { $0.hasPrefix("mcp-param-") }
        )
    }

    /// A foreign Origin, or on a loopback listener a foreign Host (DNS rebinding): 403.
    private func originRefusal(_ request: Request) -> (Response, reason: String)? {
        let reason: String
        if !configuration.allowedHosts.allows(request.head.authority) {
            reason = "host not allowed"
        } else if let origin = request.headers[.origin], !configuration.allowedOrigins.contains(origin) {
            reason = "origin not allowed"
        } else {
            return nil
        }
        return (Response.json(status: .forbidden, JSONRPCError(.invalidRequest, "Forbidden: \(reason)").body()), reason)
    }

    private func tooLarge() -> Response {
        Response.json(
            status: .contentTooLarge,
            JSONRPCError(.invalidRequest, "request body larger than 1 MiB").body()
        )
    }

    private func authReply(_ failure: AuthFailure, id: JSONRPCID?) -> MCPReply {
        switch failure.kind {
        case .unauthenticated:
            let challenge = failure.tokenPresented ? #"Bearer error="invalid_token""# : "Bearer"
            return MCPReply(
                status: 401,
                headers: ["WWW-Authenticate": challenge],
                body: JSONRPCError(.unauthorized, "Unauthorized: a valid bearer token is required", id: id).body()
            )
        case .tenantSuspended:
            return MCPReply(status: 403, body: JSONRPCError(.forbidden, "Forbidden: tenant suspended", id: id).body())
        case .unavailable:
            return .unavailable(id: id)
        }
    }

    private static func acceptsOnlyEventStream(_ request: Request) -> Bool {
        let accept = request.headers[values: .accept].joined(separator: ",").lowercased()
        return accept.contains("text/event-stream") && !accept.contains("application/json") && !accept.contains("*/*")
    }

    /// Writes a reply as JSON, or as a one-event SSE stream for a client that only accepts SSE.
    private func respond(_ reply: MCPReply, _ request: Request, requestID: String? = nil) -> Response {
        var headers = HTTPFields()
        if let requestID { headers[.requestID] = requestID }
        for (name, value) in reply.headers.sorted(by: { $0.key < $1.key }) {
            guard let fieldName = HTTPField.Name(name) else { continue }
            if fieldName == .wwwAuthenticate {
                let separator = value == "Bearer" ? " " : ", "
                headers[fieldName] = value + separator + #"resource_metadata="\#(metadataURL)""#
            } else {
                headers[fieldName] = value
            }
        }
        guard let body = reply.body else {
            return Response(status: .init(code: reply.status), headers: headers)
        }
        if reply.status == 200, Self.acceptsOnlyEventStream(request) {
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache, no-transform"
            headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
            var event = ByteBuffer(string: "event: message\r\ndata: ")
            event.writeBytes(body)
            event.writeString("\r\n\r\n")
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: event))
        }
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: reply.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

extension JSONRPCMessage {
    var requestID: JSONRPCID? {
        if case .request(let request) = self { return request.id }
        return nil
    }

    /// A request whose call function checks (and touches) the request's session itself.
    var checksItsOwnSession: Bool {
        guard case .request(let request) = self else { return false }
        switch request.method {
        case "resources/read", "resources/list": return true
        case "tools/call":
            let dataTools = [
                ToolCatalog.readResource, ToolCatalog.listResources, ToolCatalog.searchResources,
                ToolCatalog.writeResource, ToolCatalog.executeQuery,
            ]
            return dataTools.contains { $0.name == request.params["name"]?.stringValue }
        default: return false
        }
    }
}

extension HTTPField.Name {
    static let mcpProtocolVersion = HTTPField.Name("MCP-Protocol-Version")!
    static let mcpSessionID = HTTPField.Name("Mcp-Session-Id")!
    static let mcpMethod = HTTPField.Name("Mcp-Method")!
    static let mcpName = HTTPField.Name("Mcp-Name")!
    /// Names the request in the server log and the audit trail (never secret: it is random).
    static let requestID = HTTPField.Name("X-Request-Id")!
}

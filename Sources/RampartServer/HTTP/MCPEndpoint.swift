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

    let configuration: ServerConfiguration
    let authenticator: Authenticator
    let client: PostgresClient
    let metadataURL: String

    func register(on router: Router<BasicRequestContext>) {
        router.post("/mcp") { request, context in await post(request, context: context) }
        router.get("/mcp") { request, context in await withoutBody(request, context: context, isDelete: false) }
        router.delete("/mcp") { request, context in await withoutBody(request, context: context, isDelete: true) }
    }

    private func post(_ request: Request, context: BasicRequestContext) async -> Response {
        var request = request
        let requestID = RandomHandle.make()
        var logger = context.logger
        logger[metadataKey: "rampart.request_id"] = .string(requestID)

        if let refusal = originRefusal(request) { return refusal }
        let era = ProtocolEra(header: request.headers[values: .mcpProtocolVersion].first)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > Self.maxBodyBytes {
            return tooLarge()
        }
        let bytes: [UInt8]
        do {
            bytes = Array(buffer: try await request.collectBody(upTo: Self.maxBodyBytes))
        } catch is NIOTooManyBytesError {
            return tooLarge()
        } catch {
            return respond(.error(JSONRPCError(.invalidRequest, "could not read the request body"), era: era), request)
        }

        let message: JSONRPCMessage
        do {
            message = try JSONRPCMessage(try JSONParser.parse(bytes))
        } catch let error as RampartError {
            return respond(.error(JSONRPCError(.parseError, "Parse error: \(error.message)"), era: era), request)
        } catch let error as JSONRPCError {
            return respond(.error(error, era: era), request)
        } catch {
            return respond(.error(JSONRPCError(.parseError, "Parse error"), era: era), request)
        }

        // The stateless era's envelope and header checks come before authentication, as in the
        // reference SDK, so a misconfigured client learns what it got wrong.
        switch (era, message) {
        case (.stateless, .request(let call)), (.unsupported, .request(let call)):
            do { try StatelessEnvelope.validate(call, headers: routingHeaders(request)) } catch {
                return respond(.error(error, era: era), request)
            }
        case (.unsupported(let requested), _):
            let error = JSONRPCError(
                .unsupportedProtocolVersion,
                "Unsupported protocol version",
                data: [
                    "supported": .array(ProtocolEra.statelessVersions.map(JSONValue.string)),
                    "requested": .string(requested),
                ]
            )
            return respond(.error(error, era: era), request)
        case (.handshake, _) where request.headers[values: .mcpProtocolVersion].count > 1:
            return respond(
                .error(JSONRPCError(.invalidRequest, "MCP-Protocol-Version appears more than once"), era: era),
                request
            )
        default:
            break
        }

        let principal: Principal
        switch await authenticate(request, id: message.requestID, logger: logger) {
        case .success(let authenticated): principal = authenticated
        case .failure(let refusal): return refusal
        }
        logger[metadataKey: "rampart.tenant"] = .string(principal.tenant.rawValue)

        switch era {
        case .handshake(let version):
            return respond(
                await handshake(message, version: version, principal: principal, request: request, logger: logger),
                request
            )
        default:
            guard case .request(let call) = message else { return respond(.accepted(), request) }
            let dispatcher = MCPDispatcher(
                client: client,
                principal: principal,
                era: era,
                session: nil,
                requestID: requestID,
                logger: logger
            )
            return respond(await dispatcher.handle(call), request)
        }
    }

    private func handshake(
        _ message: JSONRPCMessage,
        version: String,
        principal: Principal,
        request: Request,
        logger: Logger
    ) async -> MCPReply {
        let sessions = SessionManager(client: client, principal: principal, logger: logger)
        if case .request(let call) = message, call.method == "initialize" {
            return await sessions.initialize(call)
        }
        guard let sessionID = request.headers[values: .mcpSessionID].first else {
            return .error(
                JSONRPCError(.invalidRequest, "Bad Request: Missing session ID"),
                era: .handshake(version: version)
            )
        }
        let session: ConversationRecord
        switch await sessions.resume(sessionID) {
        case .success(let found): session = found
        case .failure(let reply): return reply
        }
        guard case .request(let call) = message else {
            return MCPReply(status: 202, headers: [MCPReply.sessionHeader: sessionID])
        }
        var reply = await MCPDispatcher(
            client: client,
            principal: principal,
            era: .handshake(version: version),
            session: session,
            requestID: logger[metadataKey: "rampart.request_id"].map { "\($0)" } ?? "",
            logger: logger
        ).handle(call)
        reply.headers[MCPReply.sessionHeader] = sessionID
        return reply
    }

    /// GET (no standalone stream in either era) and DELETE (ends a handshake-era session).
    private func withoutBody(_ request: Request, context: BasicRequestContext, isDelete: Bool) async -> Response {
        if let refusal = originRefusal(request) { return refusal }
        let era = ProtocolEra(header: request.headers[values: .mcpProtocolVersion].first)
        guard isDelete, case .handshake = era, let sessionID = request.headers[values: .mcpSessionID].first else {
            return Response(status: .methodNotAllowed, headers: [.allow: "POST"])
        }
        let principal: Principal
        switch await authenticate(request, id: nil, logger: context.logger) {
        case .success(let authenticated): principal = authenticated
        case .failure(let refusal): return refusal
        }
        let ended = await SessionManager(client: client, principal: principal, logger: context.logger).end(sessionID)
        return respond(ended ?? MCPReply(status: 200), request)
    }

    private enum Authenticated {
        case success(Principal)
        case failure(Response)
    }

    /// The request's principal, or the 401 / 403 / 503 that answers it instead.
    private func authenticate(_ request: Request, id: JSONRPCID?, logger: Logger) async -> Authenticated {
        do {
            return .success(
                try await authenticator.authenticate(
                    authorization: request.headers[values: .authorization],
                    queryNames: request.uri.queryParameters.map { String($0.key) }
                )
            )
        } catch {
            logger.info("authentication refused", metadata: ["rampart.reason": .string(error.reason)])
            return .failure(respond(authReply(error, id: id), request))
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

    private func originRefusal(_ request: Request) -> Response? {
        guard let origin = request.headers[.origin], !configuration.allowedOrigins.contains(origin) else { return nil }
        return Response.json(
            status: .forbidden,
            JSONRPCError(.invalidRequest, "Forbidden: origin not allowed").body()
        )
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
            return MCPReply(
                status: 503,
                headers: ["Retry-After": "1"],
                body: JSONRPCError(.internalError, "service unavailable", id: id).body()
            )
        }
    }

    /// Writes a reply as JSON, or as a one-event SSE stream for a client that only accepts SSE.
    private func respond(_ reply: MCPReply, _ request: Request) -> Response {
        var headers = HTTPFields()
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
        let accept = request.headers[values: .accept].joined(separator: ",").lowercased()
        if reply.status == 200, accept.contains("text/event-stream"), !accept.contains("application/json"),
            !accept.contains("*/*")
        {
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache, no-transform"
            headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
            return Response(
                status: .ok,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: "event: message\r\ndata: \(body)\r\n\r\n"))
            )
        }
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: reply.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }
}

extension JSONRPCMessage {
    var requestID: JSONRPCID? {
        if case .request(let request) = self { return request.id }
        return nil
    }
}

extension HTTPField.Name {
    static let mcpProtocolVersion = HTTPField.Name("MCP-Protocol-Version")!
    static let mcpSessionID = HTTPField.Name("Mcp-Session-Id")!
    static let mcpMethod = HTTPField.Name("Mcp-Method")!
    static let mcpName = HTTPField.Name("Mcp-Name")!
}

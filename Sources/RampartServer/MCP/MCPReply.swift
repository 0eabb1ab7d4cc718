import RampartCore
import RampartMCP

/// What `/mcp` answers: a status, extra headers and an optional JSON body. Built by the
/// dispatcher without Hummingbird types so the protocol logic stays testable on its own.
struct MCPReply: Sendable, Equatable {
    static let sessionHeader = "Mcp-Session-Id"

    var status: Int
    var headers: [String: String] = [:]
    /// UTF-8 JSON, written once.
    var body: [UInt8]?

    static func accepted() -> MCPReply { MCPReply(status: 202) }

    /// 503: the database is out of reach or the deadline passed, and nothing happened (CONTRACT.md
    /// §13); the client may retry.
    static func unavailable(id: JSONRPCID?, requestID: String? = nil) -> MCPReply {
        MCPReply(
            status: 503,
            headers: ["Retry-After": "1"],
            body: JSONRPCError(
                .internalError,
                "service unavailable",
                data: requestID.map { ["requestId": .string($0)] },
                id: id
            ).body()
        )
    }

    static func result(_ id: JSONRPCID, _ result: JSONValue) -> MCPReply {
        MCPReply(status: 200, body: JSONRPCResponse.result(id: id, result))
    }

    /// A result already serialized (`ToolListCache`): the same bytes `result(_:_:)` would write.
    static func result(_ id: JSONRPCID, encoded result: [UInt8]) -> MCPReply {
        MCPReply(status: 200, body: JSONRPCResponse.result(id: id, encoded: result))
    }

    /// An error at the status its era uses: the stateless mapping, or 200 for method-level errors
    /// in the handshake era (where 404 would tell the client its session is gone).
    static func error(_ error: JSONRPCError, era: ProtocolEra, id: JSONRPCID? = nil) -> MCPReply {
        var status = error.statelessHTTPStatus
        if case .handshake = era,
            [.methodNotFound, .invalidParams, .resourceNotFound, .internalError].contains(error.code)
        {
            status = 200
        }
        return MCPReply(status: status, body: error.body(id: id))
    }
}

/// The result shapes of each era: 2026-07-28 adds `resultType`, `serverInfo` and, on cacheable
/// results, `ttlMs` and `cacheScope` (the Python client rejects results without them).
struct ResultShaper: Sendable {
    static let serverInfo: JSONValue = ["name": "rampart", "title": "Rampart", "version": "0.3.0"]

    let era: ProtocolEra

    var isStateless: Bool {
        if case .stateless = era { return true }
        return false
    }

    func plain(_ members: [String: JSONValue]) -> JSONValue {
        guard isStateless else { return .object(members) }
        var result = members
        result["resultType"] = "complete"
        result["_meta"] = ["io.modelcontextprotocol/serverInfo": Self.serverInfo]
        return .object(result)
    }

    /// A cacheable result; `private` whenever it depends on who asks.
    func cacheable(_ members: [String: JSONValue], ttlMs: Int64, isPrivate: Bool = true) -> JSONValue {
        guard isStateless else { return .object(members) }
        var result = members
        result["ttlMs"] = .int(ttlMs)
        result["cacheScope"] = isPrivate ? "private" : "public"
        return plain(result)
    }
}

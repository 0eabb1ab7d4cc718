import RampartCore

/// A JSON-RPC request id: a string or an integer, never null (2026-07-28 §basic).
public enum JSONRPCID: Sendable, Hashable {
    case string(String)
    case int(Int64)

    public var json: JSONValue {
        switch self {
        case .string(let text): .string(text)
        case .int(let integer): .int(integer)
        }
    }
}

/// One message POSTed to `/mcp`, classified.
public enum JSONRPCMessage: Sendable, Equatable {
    case request(JSONRPCRequest)
    /// No `id`: answered with 202 and no body.
    case notification(method: String, params: [String: JSONValue])
    /// A response or error sent to us: we never send requests, so it is accepted and ignored.
    case response

    /// Classifies a parsed body; anything that is not one JSON-RPC 2.0 message is invalid (batches
    /// included: one message per POST since 2025-06-18).
    public init(_ body: JSONValue) throws(JSONRPCError) {
        guard let members = body.objectValue else {
            throw JSONRPCError(.invalidRequest, "expected one JSON-RPC 2.0 object (batches are not supported)")
        }
        guard members["jsonrpc"] == .string("2.0") else {
            throw JSONRPCError(.invalidRequest, "jsonrpc must be \"2.0\"", id: JSONRPCMessage.id(in: members))
        }
        if members["method"] == nil, members["result"] != nil || members["error"] != nil {
            self = .response
            return
        }
        guard let method = members["method"]?.stringValue, !method.isEmpty, method.utf8.count <= 128 else {
            throw JSONRPCError(.invalidRequest, "method must be a non-empty string", id: JSONRPCMessage.id(in: members))
        }
        let params: [String: JSONValue]
        switch members["params"] {
        case .none, .some(.null): params = [:]
        case .some(.object(let object)): params = object
        default:
            throw JSONRPCError(.invalidRequest, "params must be an object", id: JSONRPCMessage.id(in: members))
        }
        switch members["id"] {
        case .none:
            self = .notification(method: method, params: params)
        case .some(.string(let text)) where text.utf8.count <= 256:
            self = .request(JSONRPCRequest(id: .string(text), method: method, params: params))
        case .some(.int(let integer)):
            self = .request(JSONRPCRequest(id: .int(integer), method: method, params: params))
        default:
            throw JSONRPCError(.invalidRequest, "id must be a string or an integer")
        }
    }

    /// The id of a message that turned out invalid, if it has a usable one.
    static func id(in members: [String: JSONValue]) -> JSONRPCID? {
        switch members["id"] {
        case .some(.string(let text)) where text.utf8.count <= 256: .string(text)
        case .some(.int(let integer)): .int(integer)
        default: nil
        }
    }
}

public struct JSONRPCRequest: Sendable, Equatable {
    public let id: JSONRPCID
    public let method: String
    public let params: [String: JSONValue]

    public init(id: JSONRPCID, method: String, params: [String: JSONValue]) {
        self.id = id
        self.method = method
        self.params = params
    }
}

/// A JSON-RPC error answer; `httpStatus` is what the stateless era maps its code to.
public struct JSONRPCError: Error, Sendable, Equatable {
    public struct Code: Sendable, Hashable {
        public let rawValue: Int
        public init(_ rawValue: Int) { self.rawValue = rawValue }

        public static let parseError = Code(JSONRPCErrorCode.parseError)
        public static let invalidRequest = Code(JSONRPCErrorCode.invalidRequest)
        public static let methodNotFound = Code(JSONRPCErrorCode.methodNotFound)
        public static let invalidParams = Code(JSONRPCErrorCode.invalidParams)
        public static let internalError = Code(JSONRPCErrorCode.internalError)
        public static let headerMismatch = Code(JSONRPCErrorCode.headerMismatch)
        public static let unsupportedProtocolVersion = Code(JSONRPCErrorCode.unsupportedProtocolVersion)
        public static let resourceNotFound = Code(JSONRPCErrorCode.resourceNotFound)
        public static let unauthorized = Code(JSONRPCErrorCode.unauthorized)
        public static let forbidden = Code(JSONRPCErrorCode.forbidden)
        public static let rateLimited = Code(JSONRPCErrorCode.rateLimited)
        public static let budgetExhausted = Code(JSONRPCErrorCode.budgetExhausted)
    }

    public let code: Code
    public let message: String
    public let data: JSONValue?
    public var id: JSONRPCID?

    public init(_ code: Code, _ message: String, data: JSONValue? = nil, id: JSONRPCID? = nil) {
        self.code = code
        self.message = message
        self.data = data
        self.id = id
    }

    /// The HTTP status of a stateless-era error (reference §1.6); the handshake era answers
    /// method-level errors with 200 because 404 there means "session gone".
    public var statelessHTTPStatus: Int {
        switch code {
        case .methodNotFound: 404
        case .unauthorized: 401
        case .forbidden: 403
        case .rateLimited, .budgetExhausted: 429
        case .internalError: 500
        default: 400
        }
    }

    public func body(id fallback: JSONRPCID? = nil) -> [UInt8] {
        var error: [String: JSONValue] = ["code": .int(Int64(code.rawValue)), "message": .string(message)]
        if let data { error["data"] = data }
        let response: JSONValue = ["jsonrpc": "2.0", "id": (id ?? fallback)?.json ?? .null, "error": .object(error)]
        return response.jsonBytes
    }
}

public enum JSONRPCResponse {
    public static func result(id: JSONRPCID, _ result: JSONValue) -> [UInt8] {
        JSONValue.object(["jsonrpc": "2.0", "id": id.json, "result": result]).jsonBytes
    }

    /// The same answer around a result serialized before (keys in the order `jsonBytes` sorts
    /// them): one allocation, the result copied whole.
    public static func result(id: JSONRPCID, encoded result: [UInt8]) -> [UInt8] {
        let head = Array("{\"id\":".utf8)
        let middle = Array(",\"jsonrpc\":\"2.0\",\"result\":".utf8)
        let identifier = id.json.jsonBytes
        var output: [UInt8] = []
        output.reserveCapacity(head.count + identifier.count + middle.count + result.count + 1)
        output += head
        output += identifier
        output += middle
        output += result
        output.append(UInt8(ascii: "}"))
        return output
    }
}

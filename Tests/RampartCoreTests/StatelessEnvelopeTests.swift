import RampartCore
import RampartMCP
import Testing

@Suite struct StatelessEnvelopeTests {
    let meta: JSONValue = [
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": [:],
    ]

    func request(_ method: String, _ params: [String: JSONValue] = [:]) -> JSONRPCRequest {
        var params = params
        params["_meta"] = meta
        return JSONRPCRequest(id: .int(1), method: method, params: params)
    }

    func code(
        _ request: JSONRPCRequest,
        method: [String]? = nil,
        name: [String] = [],
        version: [String] = ["2026-07-28"]
    )
        -> Int?
    {
        let headers = StatelessEnvelope.Headers(
            protocolVersion: version,
            method: method ?? [request.method],
            name: name,
            parameterNames: []
        )
        do {
            try StatelessEnvelope.validate(request, headers: headers)
            return nil
        } catch {
            return error.code.rawValue
        }
    }

    @Test func aValidRequestPasses() {
        #expect(code(request("tools/list")) == nil)
        #expect(code(request("tools/call", ["name": "read_resource"]), name: ["read_resource"]) == nil)
        #expect(
            code(request("resources/read", ["uri": "tenant://a/b/c"]), name: ["=?base64?dGVuYW50Oi8vYS9iL2M=?="]) == nil
        )
    }

    @Test func theLadder() {
        #expect(code(JSONRPCRequest(id: .int(1), method: "tools/list", params: [:])) == -32602)
        #expect(code(request("tools/list"), method: ["tools/call"]) == -32020)
        #expect(code(request("tools/list"), method: []) == -32020)
        #expect(code(request("tools/list"), method: ["tools/list", "tools/list"]) == -32020)
        #expect(code(request("tools/call", ["name": "a"]), name: ["b"]) == -32020)
        #expect(code(request("tools/call", ["name": "a"])) == -32020)
        #expect(code(request("tools/list"), version: ["2099-01-01"]) == -32020)
    }

    @Test func anUnsupportedVersionThatAgreesWithItselfIs32022() {
        var params: [String: JSONValue] = [:]
        params["_meta"] = [
            "io.modelcontextprotocol/protocolVersion": "2099-01-01",
            "io.modelcontextprotocol/clientCapabilities": [:],
        ]
        let request = JSONRPCRequest(id: .int(1), method: "tools/list", params: params)
        #expect(code(request, version: ["2099-01-01"]) == -32022)
    }

    @Test func messagesAreClassified() throws {
        #expect(throws: JSONRPCError.self) { try JSONRPCMessage([["jsonrpc": "2.0"]]) }
        #expect(throws: JSONRPCError.self) { try JSONRPCMessage(["jsonrpc": "1.0", "id": 1, "method": "x"]) }
        #expect(throws: JSONRPCError.self) { try JSONRPCMessage(["jsonrpc": "2.0", "id": .null, "method": "x"]) }
        #expect(try JSONRPCMessage(["jsonrpc": "2.0", "method": "notifications/initialized"]) != .response)
        #expect(try JSONRPCMessage(["jsonrpc": "2.0", "id": 3, "result": [:]]) == .response)
    }
}

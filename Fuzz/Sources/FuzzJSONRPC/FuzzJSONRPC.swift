import RampartCore
import RampartMCP

/// The request decoder: bytes → strict JSON → one JSON-RPC message → the stateless checks, with
/// the routing headers taken from the input itself so header/body agreement is exercised.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    // Whatever parses must serialize and parse back to the same value.
    precondition((try? JSONParser.parse(value.jsonText, maxDepth: 64)) == value, "JSON round trip")
    guard case .request(let request) = try? JSONRPCMessage(value) else { return 0 }
    let version = request.params["_meta"]?["io.modelcontextprotocol/protocolVersion"]?.stringValue ?? "2026-07-28"
    let name = request.params["name"]?.stringValue ?? request.params["uri"]?.stringValue ?? ""
    let headers = StatelessEnvelope.Headers(
        protocolVersion: [version],
        method: [request.method],
        name: [name],
        parameterNames: []
    )
    _ = try? StatelessEnvelope.validate(request, headers: headers)
    if let tool = ToolCatalog.named(request.params["name"]?.stringValue ?? "") {
        _ = try? ToolCall.parse(tool, arguments: request.params["arguments"]?.objectValue ?? [:])
    }
    return 0
}

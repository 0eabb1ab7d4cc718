import Foundation
import RampartCore

/// The 2026-07-28 per-request checks (reference §1.6), in the Python SDK's order so a client
/// that disagrees with itself is told which way: duplicated routing headers, the `_meta`
/// envelope, header/body agreement, then the version itself.
public struct StatelessEnvelope: Sendable {
    public static let protocolVersionKey = "io.modelcontextprotocol/protocolVersion"
    public static let clientCapabilitiesKey = "io.modelcontextprotocol/clientCapabilities"

    /// The request's routing headers, every occurrence kept so duplicates can be refused.
    public struct Headers: Sendable {
        public var protocolVersion: [String]
        public var method: [String]
        public var name: [String]
        /// Names of `Mcp-Param-*` headers; no Rampart tool declares `x-mcp-header`.
        public var parameterNames: [String]

        public init(protocolVersion: [String], method: [String], name: [String], parameterNames: [String]) {
            self.protocolVersion = protocolVersion
            self.method = method
            self.name = name
            self.parameterNames = parameterNames
        }
    }

    public static func validate(_ request: JSONRPCRequest, headers: Headers) throws(JSONRPCError) {
        func mismatch(_ message: String) -> JSONRPCError {
            JSONRPCError(.headerMismatch, message, id: request.id)
        }
        guard headers.protocolVersion.count <= 1, headers.method.count <= 1, headers.name.count <= 1 else {
            throw mismatch("a routing header (mcp-protocol-version, mcp-method, mcp-name) appears more than once")
        }
        guard let meta = request.params["_meta"]?.objectValue, let version = meta[protocolVersionKey],
            meta[clientCapabilitiesKey]?.objectValue != nil
        else {
            throw JSONRPCError(
                .invalidParams,
                "params._meta must be an object carrying the required '\(protocolVersionKey)' and "
                    + "'\(clientCapabilitiesKey)' envelope keys",
                id: request.id
            )
        }
        guard let headerVersion = headers.protocolVersion.first, version.stringValue == headerVersion else {
            throw mismatch("mcp-protocol-version header does not match the request envelope's protocol version")
        }
        guard headers.method.first.map(trimmed) == request.method else {
            throw mismatch("mcp-method header does not match the request body's method")
        }
        if let expectedName = nameParameter(of: request) {
            guard let header = headers.name.first, decode(header) == expectedName else {
                throw mismatch("mcp-name header does not match the request body's name")
            }
        }
        guard headers.parameterNames.isEmpty else {
            throw mismatch("unexpected \(headers.parameterNames[0]) header: no tool argument is mirrored in a header")
        }
        guard ProtocolEra.statelessVersions.contains(headerVersion) else {
            throw JSONRPCError(
                .unsupportedProtocolVersion,
                "Unsupported protocol version",
                data: [
                    "supported": .array(ProtocolEra.statelessVersions.map(JSONValue.string)),
                    "requested": .string(headerVersion),
                ],
                id: request.id
            )
        }
    }

    /// What `Mcp-Name` must carry for this method, if anything.
    static func nameParameter(of request: JSONRPCRequest) -> String? {
        switch request.method {
        case "tools/call", "prompts/get": request.params["name"]?.stringValue ?? ""
        case "resources/read": request.params["uri"]?.stringValue ?? ""
        default: nil
        }
    }

    /// A header value as sent: verbatim printable ASCII, or `=?base64?…?=` (surrounding
    /// whitespace is the field parser's, not the value's).
    public static func decode(_ header: String) -> String? {
        let value = trimmed(header)
        guard value.hasPrefix("=?base64?"), value.hasSuffix("?="), value.utf8.count >= 11 else { return value }
        let encoded = value.dropFirst(9).dropLast(2)
        guard let data = Data(base64Encoded: String(encoded)) else { return nil }
        return String(data: data, encoding: .utf8)
    }

    static func trimmed(_ value: String) -> String {
        value.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
    }
}

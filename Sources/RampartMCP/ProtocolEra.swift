/// The two MCP protocol eras served at one endpoint, chosen by the `MCP-Protocol-Version` header
/// (reference: shared/reference/mcp-protocol-2026.md §3).
public enum ProtocolEra: Sendable, Equatable {
    /// 2025-03-26, 2025-06-18, 2025-11-25: `initialize` and `Mcp-Session-Id`.
    case handshake(version: String)
    /// 2026-07-28: stateless, `_meta` envelope, `server/discover`.
    case stateless(version: String)
    /// A version header naming neither era: answered with -32022 (stateless) or 400.
    case unsupported(requested: String)

    public static let handshakeVersions = ["2025-03-26", "2025-06-18", "2025-11-25"]
    public static let statelessVersions = ["2026-07-28"]
    /// What a handshake-era request without the header is assumed to speak.
    public static let defaultHandshakeVersion = "2025-03-26"
    /// What `initialize` counters with when the client asks for a version we do not serve.
    public static let latestHandshakeVersion = "2025-11-25"

    /// Routes a request by its header, as the Python SDK does: absent or a handshake version goes
    /// to the handshake leg, anything else to the stateless leg.
    public init(header: String?) {
        guard let header else {
            self = .handshake(version: Self.defaultHandshakeVersion)
            return
        }
        if Self.handshakeVersions.contains(header) {
            self = .handshake(version: header)
        } else if Self.statelessVersions.contains(header) {
            self = .stateless(version: header)
        } else {
            self = .unsupported(requested: header)
        }
    }
}

/// JSON-RPC and MCP error codes Rampart emits.
public enum JSONRPCErrorCode {
    public static let parseError = -32700
    public static let invalidRequest = -32600
    public static let methodNotFound = -32601
    public static let invalidParams = -32602
    public static let internalError = -32603
    public static let headerMismatch = -32020
    public static let missingRequiredClientCapability = -32021
    public static let unsupportedProtocolVersion = -32022
    /// Handshake-era "resource not found" (2026-07-28 uses -32602 instead).
    public static let resourceNotFound = -32002
    /// Rampart: no valid token (HTTP 401). Outside the range the spec reserves.
    public static let unauthorized = -31401
    /// Rampart: the token is valid but may not do this (HTTP 403).
    public static let forbidden = -31403
    /// Rampart: a rate limit refused the call (CONTRACT.md §10).
    public static let rateLimited = -32050
    /// Rampart: a budget is exhausted (CONTRACT.md §10).
    public static let budgetExhausted = -32051
}

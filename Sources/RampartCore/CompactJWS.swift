/// The parts of a compact JWS (RFC 7515) as untrusted input: strict base64url, a JSON header of
/// at most 4 levels, and nothing verified yet. `TokenVerifier` checks the signature and claims.
public struct CompactJWS: Sendable {
    public static let maxBytes = 8192

    public let header: [String: JSONValue]
    public let payload: [UInt8]
    public let signature: [UInt8]
    /// `base64url(header) "." base64url(payload)`: what the signature signs.
    public let signingInput: [UInt8]

    public init(parsing token: String) throws(RampartError) {
        guard token.utf8.count <= Self.maxBytes else { throw .invalidArgument("token too large") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else { throw .invalidArgument("not a compact JWS") }
        guard let header = try? JSONParser.parse(headerBytes, maxDepth: 4).objectValue else {
            throw .invalidArgument("malformed header")
        }
        self.header = header
        self.payload = payload
        self.signature = signature
        signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
    }
}

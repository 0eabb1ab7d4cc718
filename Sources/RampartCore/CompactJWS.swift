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
        guard parts.count == 3, let headerBytes = Self.base64URL(parts[0]), let payload = Self.base64URL(parts[1]),
            let signature = Self.base64URL(parts[2])
        else { throw .invalidArgument("not a compact JWS") }
        guard let header = try? JSONParser.parse(headerBytes, maxDepth: 4).objectValue else {
            throw .invalidArgument("malformed header")
        }
        self.header = header
        self.payload = payload
        self.signature = signature
        signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
    }

    /// Strict base64url without padding, as JWS requires.
    public static func base64URL(_ part: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(part.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for character in part.utf8 {
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            buffer = (buffer << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        // A lone trailing character (6 bits) cannot end a base64 string; leftover bits must be zero.
        guard !part.isEmpty, bits < 6, buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return bytes
    }
}

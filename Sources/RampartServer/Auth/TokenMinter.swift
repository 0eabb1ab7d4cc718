import Foundation
import JWTKit
import RampartCore

/// Mints HS256 tokens for development and tests (`rampart token mint`), with the same claims a
/// real authorization server would issue: `iss`, `aud`, `sub`, the tenant claim, `scope`, `iat`,
/// `nbf`, `exp` and a random `jti`.
public struct TokenMinter: Sendable {
    public struct Request: Sendable {
        public var issuer: String
        public var audience: String
        public var subject: String
        public var tenant: TenantID
        public var tenantClaim: String
        public var scopes: [String]
        public var lifetime: Int
        public var extraClaims: [String: JSONValue]

        public init(
            issuer: String,
            audience: String,
            subject: String,
            tenant: TenantID,
            tenantClaim: String = "tenant_id",
            scopes: [String],
            lifetime: Int = 3600,
            extraClaims: [String: JSONValue] = [:]
        ) {
            self.issuer = issuer
            self.audience = audience
            self.subject = subject
            self.tenant = tenant
            self.tenantClaim = tenantClaim
            self.scopes = scopes
            self.lifetime = lifetime
            self.extraClaims = extraClaims
        }
    }

    private let secret: String

    public init(hs256Secret: String) throws(RampartError) {
        guard hs256Secret.utf8.count >= 32 else {
            throw .configuration(key: "RAMPART_JWT_HS256_SECRET", "must be at least 32 bytes")
        }
        secret = hs256Secret
    }

    public func mint(_ request: Request, now: Date = Date()) async throws -> String {
        guard !request.subject.isEmpty, request.subject.utf8.count <= 256 else {
            throw RampartError.invalidArgument("the subject must be 1-256 bytes")
        }
        guard (1...(366 * 86_400)).contains(request.lifetime) else {
            throw RampartError.invalidArgument("the lifetime must be 1 second to 366 days")
        }
        let issuedAt = Int64(now.timeIntervalSince1970)
        var claims = request.extraClaims
        claims["iss"] = .string(request.issuer)
        claims["aud"] = .string(request.audience)
        claims["sub"] = .string(request.subject)
        claims[request.tenantClaim] = .string(request.tenant.rawValue)
        claims["scope"] = .string(request.scopes.joined(separator: " "))
        claims["iat"] = .int(issuedAt)
        claims["nbf"] = .int(issuedAt)
        claims["exp"] = .int(issuedAt + Int64(request.lifetime))
        claims["jti"] = .string(UUID().uuidString.lowercased())

        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(ClaimSet(claims: claims))
    }
}

/// A JWT payload of arbitrary claims, encoded as given (integers stay integers).
struct ClaimSet: JWTPayload {
    var claims: [String: JSONValue]

    init(claims: [String: JSONValue]) { self.claims = claims }

    init(from decoder: any Decoder) throws {
        claims = try [String: JSONValue](from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    /// Minted here, never trusted here: the server verifies incoming tokens with its own claim checks.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

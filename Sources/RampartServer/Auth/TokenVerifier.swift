import Crypto
import Foundation
import JWTKit
import RampartCore

/// Verifies one bearer token (CONTRACT.md §6): a fixed algorithm allowlist, the HS256 secret
/// only for HS256 and JWKS keys only for their own algorithm (no algorithm confusion), then the
/// registered claims. Cryptography is jwt-kit's; this decides which key may verify what.
struct TokenVerifier: Sendable {
    static let allowedAlgorithms: Set<String> = ["HS256", "RS256", "ES256", "EdDSA"]
    static let leeway: Int64 = 60

    let issuers: Set<String>
    let bindings: IssuerBindings
    let audience: String
    let tenantClaim: String
    let hmac: (any JWTAlgorithm)?
    let jwks: JWKSKeys

    init(configuration: ServerConfiguration, jwks: JWKSKeys) async {
        issuers = Set(configuration.jwtIssuers)
        bindings = configuration.issuerBindings
        audience = configuration.publicURL
        tenantClaim = configuration.tenantClaim
        if let secret = configuration.hs256Secret {
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            hmac = try? await keys.getKey()
        } else {
            hmac = nil
        }
        self.jwks = jwks
    }

    func verify(_ token: String, now: Int64) async throws(AuthFailure) -> Principal {
        let jws: CompactJWS
        do { jws = try CompactJWS(parsing: token) } catch { throw .invalid(error.message) }
        let header = jws.header
        guard let alg = header["alg"]?.stringValue, Self.allowedAlgorithms.contains(alg) else {
            throw .invalid("algorithm not allowed")
        }
        guard header["crit"] == nil else { throw .invalid("unsupported critical header") }
        let kid: String?
        switch header["kid"] {
        case .none: kid = nil
        case .some(.string(let value)) where value.utf8.count <= 256: kid = value
        default: throw .invalid("malformed kid")
        }

        let key: (any JWTAlgorithm)?
        if alg == "HS256" {
            key = hmac
        } else {
            key = await jwks.algorithm(kid: kid, alg: alg)
        }
        guard let key else { throw .invalid("no key for this token") }
        guard (try? key.verify(jws.signature, signs: jws.signingInput)) == true else { throw .invalid("bad signature") }

        guard let claims = try? JSONParser.parse(jws.payload, maxDepth: 8).objectValue else {
            throw .invalid("malformed claims")
        }
        let principal = try principal(from: claims, token: token, now: now)
        // The key that verified the token must belong to its issuer, and the issuer may speak
        // only for its own tenants.
        guard bindings.mayVerify(issuer: principal.issuer, withHS256: alg == "HS256") else {
            throw .invalid("issuer not bound to this key")
        }
        guard bindings.mayAssert(principal.tenant, issuer: principal.issuer) else {
            throw .invalid("issuer may not assert this tenant")
        }
        return principal
    }

    private func principal(from claims: [String: JSONValue], token: String, now: Int64) throws(AuthFailure) -> Principal
    {
        guard let issuer = claims["iss"]?.stringValue, issuers.contains(issuer) else {
            throw .invalid("issuer not accepted")
        }
        let audiences: [String] =
            switch claims["aud"] {
            case .some(.string(let single)): [single]
            case .some(.array(let many)): many.compactMap(\.stringValue)
            default: []
            }
        guard audiences.contains(audience) else { throw .invalid("audience is not this server") }
        guard let expires = claims["exp"].flatMap(Self.numericDate) else { throw .invalid("no exp") }
        guard now <= expires + Self.leeway else { throw .invalid("expired") }
        if let notBefore = claims["nbf"] {
            guard let start = Self.numericDate(notBefore), start - Self.leeway <= now else {
                throw .invalid("not yet valid")
            }
        }
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty, subject.utf8.count <= 256,
            !subject.unicodeScalars.contains(where: TextSanitizer.isControl)
        else { throw .invalid("bad sub") }
        guard let tenantText = claims[tenantClaim]?.stringValue, let tenant = try? TenantID(validating: tenantText)
        else {
            throw .invalid("bad tenant claim")
        }

        var scopes: Set<Scope> = []
        if let scopeText = claims["scope"]?.stringValue {
            scopes.formUnion(scopeText.split(separator: " ").compactMap { Scope(known: String($0)) })
        } else if let list = claims["scp"]?.arrayValue {
            scopes.formUnion(list.compactMap { $0.stringValue.flatMap(Scope.init(known:)) })
        }
        var conversationScope: [String]?
        if let patterns = claims["rampart_scope"] {
            guard let list = patterns.arrayValue, list.count <= 32 else { throw .invalid("bad rampart_scope") }
            conversationScope = list.compactMap(\.stringValue)
            guard conversationScope?.count == list.count else { throw .invalid("bad rampart_scope") }
        }
        let tokenKey: String
        if let jti = claims["jti"]?.stringValue, !jti.isEmpty, jti.utf8.count <= 256 {
            tokenKey = "jti:" + jti
        } else {
            tokenKey = "sha256:" + Hex.encode(SHA256.hash(data: Array(token.utf8)))
        }
        return Principal(
            tenant: tenant,
            issuer: issuer,
            subject: subject,
            scopes: scopes,
            tokenKey: tokenKey,
            conversationScope: conversationScope,
            expiresAt: expires
        )
    }

    /// A NumericDate (RFC 7519): seconds, possibly fractional (jwt-kit writes `exp` that way).
    static func numericDate(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let seconds): seconds
        case .double(let seconds) where seconds.isFinite && abs(seconds) < 1e15: Int64(seconds.rounded(.down))
        default: nil
        }
    }
}

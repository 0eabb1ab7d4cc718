import Foundation
import Logging
import RampartCore
import Testing

@testable import RampartServer

/// Claim checks of the verifier, with tokens from the same minter `rampart token mint` uses.
@Suite struct TokenVerifierTests {
    static let secret = String(repeating: "k", count: 40)
    static let audience = "http://127.0.0.1:8080/mcp"

    func verifier() async throws -> TokenVerifier {
        let configuration = try ServerConfiguration(values: [
            "RAMPART_DATABASE_URL": "postgres://app@127.0.0.1/db", "RAMPART_JWT_ISSUERS": "https://issuer.example",
            "RAMPART_JWT_HS256_SECRET": Self.secret,
        ])
        return await TokenVerifier(
            configuration: configuration,
            jwks: JWKSKeys(file: nil, url: nil, logger: .init(label: "t"))
        )
    }

    func mint(audience: String = audience, lifetime: Int = 600, scopes: [String] = ["resources:read", "bogus"])
        async throws
        -> String
    {
        try await TokenMinter(hs256Secret: Self.secret).mint(
            .init(
                issuer: "https://issuer.example",
                audience: audience,
                subject: "alice",
                tenant: try TenantID(validating: "acme"),
                scopes: scopes,
                lifetime: lifetime
            )
        )
    }

    func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    @Test func aGoodTokenGivesItsPrincipal() async throws {
        let principal = try await verifier().verify(try await mint(), now: now())
        #expect(principal.tenant.rawValue == "acme" && principal.subject == "alice")
        #expect(principal.scopes == [.read])
        #expect(principal.tokenKey.hasPrefix("jti:"))
    }

    @Test func expiryHasSixtySecondsOfLeeway() async throws {
        let token = try await mint(lifetime: 10)
        let verifier = try await verifier()
        _ = try await verifier.verify(token, now: now() + 65)
        await #expect(throws: AuthFailure.invalid("expired")) { try await verifier.verify(token, now: now() + 75) }
    }

    @Test func fractionalNumericDatesAreAccepted() {
        #expect(TokenVerifier.numericDate(.double(1_795_684_034.43)) == 1_795_684_034)
        #expect(TokenVerifier.numericDate(.int(5)) == 5)
        #expect(TokenVerifier.numericDate(.string("5")) == nil)
        #expect(TokenVerifier.numericDate(.double(.infinity)) == nil)
    }

    @Test func theAudienceMustBeThisServer() async throws {
        let token = try await mint(audience: "https://elsewhere.example/mcp")
        await #expect(throws: AuthFailure.invalid("audience is not this server")) {
            try await verifier().verify(token, now: now())
        }
    }

    @Test func aRewrittenAlgorithmNeverVerifies() async throws {
        let parts = try await mint().split(separator: ".").map(String.init)
        let verifier = try await verifier()
        for header in [
            #"{"alg":"none","typ":"JWT"}"#, #"{"alg":"RS256","typ":"JWT"}"#, #"{"alg":"HS512","typ":"JWT"}"#,
        ] {
            let encoded = Data(header.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            let forged = [encoded, parts[1], parts[2]].joined(separator: ".")
            await #expect(throws: AuthFailure.self) { try await verifier.verify(forged, now: now()) }
        }
    }
}

import Foundation
import RampartCore

/// Which key source may verify the tokens of which issuer, and which tenants an issuer may
/// assert (docs/protocol.md "Issuers and their keys"). Without bindings, the weakest credential
/// would control every tenant: a test HS256 secret beside a production JWKS could mint tokens of
/// the production issuer.
///
/// - `RAMPART_JWT_HS256_ISSUERS`: the issuers whose tokens the HS256 secret verifies.
/// - `RAMPART_JWKS_ISSUERS`: the issuers whose tokens the JWKS keys (file or URL) verify.
/// - `RAMPART_JWT_ISSUER_TENANTS`: `ISSUER=tenant tenant…;ISSUER=*` — the tenants each issuer may
///   assert (`*`, or an issuer not listed: any).
///
/// With one key source, or one issuer, a binding may be left out: it is every accepted issuer.
/// With both key sources and several issuers, both bindings are required.
public struct IssuerBindings: Sendable, Equatable {
    public let hs256: Set<String>
    public let jwks: Set<String>
    public let tenants: [String: Set<TenantID>]

    init(
        issuers: [String],
        hasHS256: Bool,
        hasJWKS: Bool,
        value: (String) -> String?
    ) throws(RampartError) {
        let accepted = Set(issuers)
        func bound(_ key: String, configured: Bool, other: Bool) throws(RampartError) -> Set<String> {
            guard configured else {
                if value(key) != nil { throw .configuration(key: key, "set, but its key source is not configured") }
                return []
            }
            guard let raw = value(key) else {
                guard !other || accepted.count == 1 else {
                    throw .configuration(
                        key: key,
                        "required: with both an HS256 secret and JWKS keys, bind each issuer to its key source"
                    )
                }
                return accepted
            }
            let listed = ServerConfiguration.list(raw)
            for issuer in listed where !accepted.contains(issuer) {
                throw .configuration(key: key, "\(TextSanitizer.quoted(issuer)) is not in RAMPART_JWT_ISSUERS")
            }
            return Set(listed)
        }
        hs256 = try bound("RAMPART_JWT_HS256_ISSUERS", configured: hasHS256, other: hasJWKS)
        jwks = try bound("RAMPART_JWKS_ISSUERS", configured: hasJWKS, other: hasHS256)
        for issuer in issuers where !hs256.contains(issuer) && !jwks.contains(issuer) {
            throw .configuration(
                key: hasHS256 ? "RAMPART_JWT_HS256_ISSUERS" : "RAMPART_JWKS_ISSUERS",
                "no key source verifies tokens of issuer \(TextSanitizer.quoted(issuer))"
            )
        }
        tenants = try Self.tenants(value("RAMPART_JWT_ISSUER_TENANTS"), accepted: accepted)
    }

    private static func tenants(
        _ raw: String?,
        accepted: Set<String>
    ) throws(RampartError) -> [String: Set<TenantID>] {
        let key = "RAMPART_JWT_ISSUER_TENANTS"
        var bound: [String: Set<TenantID>] = [:]
        for entry in (raw ?? "").split(separator: ";") where !entry.allSatisfy(\.isWhitespace) {
            guard let equals = entry.lastIndex(of: "=") else {
                throw .configuration(key: key, "expected ISSUER=tenant tenant…;ISSUER=*")
            }
            let issuer = entry[..<equals].trimmingCharacters(in: .whitespaces)
            guard accepted.contains(issuer) else {
                throw .configuration(key: key, "\(TextSanitizer.quoted(issuer)) is not in RAMPART_JWT_ISSUERS")
            }
            let names = entry[entry.index(after: equals)...].split(separator: " ").map(String.init)
            guard !names.isEmpty else {
                throw .configuration(key: key, "no tenants for \(TextSanitizer.quoted(issuer))")
            }
            if names == ["*"] { continue }
            var allowed: Set<TenantID> = []
            for name in names {
                do { allowed.insert(try TenantID(validating: name)) } catch {
                    throw .configuration(key: key, error.message)
                }
            }
            bound[issuer] = allowed
        }
        return bound
    }

    /// Whether a token of `issuer` may be verified by the HS256 secret (else by a JWKS key).
    func mayVerify(issuer: String, withHS256: Bool) -> Bool {
        (withHS256 ? hs256 : jwks).contains(issuer)
    }

    func mayAssert(_ tenant: TenantID, issuer: String) -> Bool {
        tenants[issuer].map { $0.contains(tenant) } ?? true
    }
}

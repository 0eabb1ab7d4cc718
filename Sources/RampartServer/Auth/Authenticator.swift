import Crypto
import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// Authenticates a request: the bearer token (verified outside any lock, so signature checks
/// use every core), then the tenant's status and grants.
struct Authenticator: Sendable {
    let verifier: TokenVerifier
    let state: AuthCache
    let tenants: TenantDirectory
    let logger: Logger

    /// `authorization`: every Authorization header; `queryItems`: the request's query names.
    /// The principal (its scopes narrowed to the tenant's grants) and the tenant's settings.
    func authenticate(
        authorization: [String],
        queryNames: [String],
        deadline: ContinuousClock.Instant
    ) async throws(AuthFailure) -> (principal: Principal, tenant: TenantAccess) {
        if queryNames.contains(where: { ["access_token", "token", "bearer"].contains($0.lowercased()) }) {
            throw .invalid("token in the query string")
        }
        guard let header = authorization.first else { throw .missing }
        guard authorization.count == 1 else { throw .invalid("more than one Authorization header") }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AuthFailure(kind: .unauthenticated, reason: "not a bearer token", tokenPresented: false)
        }
        // A token is base64url and dots: only spaces and tabs can surround it in a valid header.
        var token = parts[1]
        while let first = token.first, first == " " || first == "\t" { token.removeFirst() }
        while let last = token.last, last == " " || last == "\t" { token.removeLast() }
        let now = Int64(Date().timeIntervalSince1970)
        let hash = Hex.encode(SHA256.hash(data: Array(token.utf8)))

        let principal: Principal
        if let cached = state.principal(forTokenHash: hash, now: now) {
            principal = cached
        } else {
            principal = try await verifier.verify(String(token), now: now)
            state.remember(principal, forTokenHash: hash, now: now)
        }

        let access: TenantAccess?
        if let cached = state.tenantAccess(principal.tenant) {
            access = cached
        } else {
            let generation = state.generation(of: principal.tenant)
            do {
                access = try await tenants.access(of: principal.tenant, until: deadline)
            } catch {
                DatabaseErrors.log(error, "tenant lookup failed", logger: logger)
                throw AuthFailure(kind: .unavailable, reason: "tenant lookup failed", tokenPresented: true)
            }
            state.remember(access, for: principal.tenant, readAt: generation)
        }
        guard let access else { throw .invalid("unknown tenant") }
        guard access.active else {
            throw AuthFailure(
                kind: .tenantSuspended,
                reason: "tenant suspended",
                tokenPresented: true,
                tenant: principal.tenant
            )
        }
        return (principal.granted(access.grantedScopes), access)
    }
}

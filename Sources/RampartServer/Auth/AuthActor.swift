import Crypto
import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// Authentication state shared by every request of this process: verified tokens (until their
/// `exp`, keyed by the token's hash so no token is kept) and recently read tenant status.
actor AuthActor {
    static let maxCachedTokens = 10_000
    /// A suspension must reach every process within a second (CONTRACT.md §13): a NOTIFY drops
    /// the entry at once; without a listener, entries live only 500 ms.
    static let tenantTTLListening: Duration = .seconds(5)
    static let tenantTTLUnlistened: Duration = .milliseconds(500)

    private var verified: [String: Principal] = [:]
    private var tenants: [TenantID: (access: TenantAccess?, readAt: ContinuousClock.Instant)] = [:]
    private var listening = false

    func setListening(_ isListening: Bool) {
        // Notifications may have been missed while the listener was away.
        if isListening != listening { tenants.removeAll() }
        listening = isListening
    }

    func forget(_ tenant: TenantID) { tenants[tenant] = nil }

    func forgetAllTenants() { tenants.removeAll() }

    func principal(forTokenHash hash: String, now: Int64) -> Principal? {
        guard let principal = verified[hash] else { return nil }
        guard now <= principal.expiresAt + TokenVerifier.leeway else {
            verified[hash] = nil
            return nil
        }
        return principal
    }

    func remember(_ principal: Principal, forTokenHash hash: String, now: Int64) {
        if verified.count >= Self.maxCachedTokens {
            verified = verified.filter { now <= $0.value.expiresAt + TokenVerifier.leeway }
            if verified.count >= Self.maxCachedTokens { verified.removeAll(keepingCapacity: true) }
        }
        verified[hash] = principal
    }

    func tenantAccess(_ tenant: TenantID) -> TenantAccess?? {
        let lifetime = listening ? Self.tenantTTLListening : Self.tenantTTLUnlistened
        guard let entry = tenants[tenant], ContinuousClock.now - entry.readAt < lifetime else { return nil }
        return .some(entry.access)
    }

    func remember(_ access: TenantAccess?, for tenant: TenantID) {
        if tenants.count >= Self.maxCachedTokens { tenants.removeAll(keepingCapacity: true) }
        tenants[tenant] = (access, .now)
    }
}

/// Authenticates a request: the bearer token (verified outside the actor, so signature checks
/// use every core), then the tenant's status and grants.
struct Authenticator: Sendable {
    let verifier: TokenVerifier
    let state: AuthActor
    let client: PostgresClient
    let logger: Logger

    /// `authorization`: every Authorization header; `queryItems`: the request's query names.
    /// The principal (its scopes narrowed to the tenant's grants) and the tenant's settings.
    func authenticate(
        authorization: [String],
        queryNames: [String]
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
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        let now = Int64(Date().timeIntervalSince1970)
        let hash = SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()

        let principal: Principal
        if let cached = await state.principal(forTokenHash: hash, now: now) {
            principal = cached
        } else {
            principal = try await verifier.verify(token, now: now)
            await state.remember(principal, forTokenHash: hash, now: now)
        }

        let access: TenantAccess?
        if let cached = await state.tenantAccess(principal.tenant) {
            access = cached
        } else {
            do {
                access = try await client.withMeteredConnection { connection in
                    try await TenantAccess.load(principal.tenant, on: connection, logger: logger)
                }
            } catch {
                logger.error(
                    "tenant lookup failed",
                    metadata: ["error": "\(DatabaseErrors.map(error).debugDescription)"]
                )
                throw AuthFailure(kind: .unavailable, reason: "tenant lookup failed", tokenPresented: true)
            }
            await state.remember(access, for: principal.tenant)
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

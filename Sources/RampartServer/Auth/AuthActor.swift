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
    /// Bumped by every change notice, so a row read before a change cannot be cached after it.
    private var generations: [TenantID: UInt64] = [:]
    private var epoch: UInt64 = 0

    /// Where a tenant's cache entry stands; pass it back to `remember(_:for:readAt:)`.
    struct Generation: Sendable, Equatable {
        let epoch: UInt64
        let tenant: UInt64
    }

    func setListening(_ isListening: Bool) {
        // Notifications may have been missed while the listener was away.
        if isListening != listening { forgetAllTenants() }
        listening = isListening
    }

    func forget(_ tenant: TenantID) {
        tenants[tenant] = nil
        if generations.count >= Self.maxCachedTokens { forgetAllTenants() }
        generations[tenant, default: 0] &+= 1
    }

    func forgetAllTenants() {
        tenants.removeAll()
        generations.removeAll()
        epoch &+= 1
    }

    func generation(of tenant: TenantID) -> Generation {
        Generation(epoch: epoch, tenant: generations[tenant] ?? 0)
    }

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

    /// Caches a tenant row read at `generation`, unless a change notice came in since: then the
    /// row may be stale, and the next request reads it again.
    func remember(_ access: TenantAccess?, for tenant: TenantID, readAt generation: Generation) {
        guard generation == self.generation(of: tenant) else { return }
        if tenants.count >= Self.maxCachedTokens { tenants.removeAll(keepingCapacity: true) }
        tenants[tenant] = (access, .now)
    }
}

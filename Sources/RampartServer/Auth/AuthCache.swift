import RampartCore
import RampartStore
import Synchronization

/// Authentication state shared by every request of this process: verified tokens (until their
/// `exp`, keyed by the token's hash so no token is kept) and recently read tenant status. Every
/// request reads it, so it is a lock held for a dictionary look-up rather than an actor hop.
final class AuthCache: Sendable {
    static let maxCachedTokens = 10_000
    /// A suspension must reach every process within a second (CONTRACT.md §13): a NOTIFY drops
    /// the entry at once; without a listener, entries live only 500 ms.
    static let tenantTTLListening: Duration = .seconds(5)
    static let tenantTTLUnlistened: Duration = .milliseconds(500)

    private struct State {
        var verified: [String: Principal] = [:]
        var tenants: [TenantID: (access: TenantAccess?, readAt: ContinuousClock.Instant)] = [:]
        var listening = false
        /// Bumped by every change notice, so a row read before a change cannot be cached after it.
        var generations: [TenantID: UInt64] = [:]
        var epoch: UInt64 = 0

        func generation(of tenant: TenantID) -> Generation {
            Generation(epoch: epoch, tenant: generations[tenant] ?? 0)
        }

        mutating func forgetAllTenants() {
            tenants.removeAll()
            generations.removeAll()
            epoch &+= 1
        }
    }

    private let state = Mutex(State())

    /// Where a tenant's cache entry stands; pass it back to `remember(_:for:readAt:)`.
    struct Generation: Sendable, Equatable {
        let epoch: UInt64
        let tenant: UInt64
    }

    func setListening(_ isListening: Bool) {
        state.withLock { state in
            // Notifications may have been missed while the listener was away.
            if isListening != state.listening { state.forgetAllTenants() }
            state.listening = isListening
        }
    }

    func forget(_ tenant: TenantID) {
        state.withLock { state in
            state.tenants[tenant] = nil
            if state.generations.count >= Self.maxCachedTokens { state.forgetAllTenants() }
            state.generations[tenant, default: 0] &+= 1
        }
    }

    func forgetAllTenants() {
        state.withLock { $0.forgetAllTenants() }
    }

    func generation(of tenant: TenantID) -> Generation {
        state.withLock { $0.generation(of: tenant) }
    }

    func principal(forTokenHash hash: String, now: Int64) -> Principal? {
        state.withLock { state in
            guard let principal = state.verified[hash] else { return nil }
            guard now <= principal.expiresAt + TokenVerifier.leeway else {
                state.verified[hash] = nil
                return nil
            }
            return principal
        }
    }

    func remember(_ principal: Principal, forTokenHash hash: String, now: Int64) {
        state.withLock { state in
            if state.verified.count >= Self.maxCachedTokens {
                state.verified = state.verified.filter { now <= $0.value.expiresAt + TokenVerifier.leeway }
                if state.verified.count >= Self.maxCachedTokens { state.verified.removeAll(keepingCapacity: true) }
            }
            state.verified[hash] = principal
        }
    }

    func tenantAccess(_ tenant: TenantID) -> TenantAccess?? {
        state.withLock { state in
            let lifetime = state.listening ? Self.tenantTTLListening : Self.tenantTTLUnlistened
            guard let entry = state.tenants[tenant], ContinuousClock.now - entry.readAt < lifetime else { return nil }
            return .some(entry.access)
        }
    }

    /// Caches a tenant row read at `generation`, unless a change notice came in since: then the
    /// row may be stale, and the next request reads it again.
    func remember(_ access: TenantAccess?, for tenant: TenantID, readAt generation: Generation) {
        state.withLock { state in
            guard generation == state.generation(of: tenant) else { return }
            if state.tenants.count >= Self.maxCachedTokens { state.tenants.removeAll(keepingCapacity: true) }
            state.tenants[tenant] = (access, .now)
        }
    }
}

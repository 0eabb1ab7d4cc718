import RampartCore

/// Handshake-era sessions this process found live in the database, so a request that reaches no
/// data call (`tools/list`, `ping`, a notification) needs no round trip. An entry lives 1 s after
/// the database confirmed (and touched) the session while the change listener is connected, and
/// 500 ms otherwise: a DELETE or a revocation on any process reaches this one through
/// `rampart_changes` and drops the tenant's entries at once, and without the listener within
/// 500 ms. A cached request does not restart the session's idle timer, so a session used only
/// through the cache can idle out up to 1 s early; every data call checks and touches its session
/// in its own statement.
actor SessionCache {
    static let maxEntries = 10_000
    static let lifetimeListening: Duration = .seconds(1)
    static let lifetimeUnlistened: Duration = .milliseconds(500)

    struct Key: Hashable, Sendable {
        let tenant: TenantID
        let issuer: String
        let subject: String
        let session: String
    }

    private var live: [Key: ContinuousClock.Instant] = [:]
    private var listening = false
    /// Moves on every forget: a confirmation read before a change arrived must not be remembered
    /// after it (the change would be lost for a whole lifetime).
    private(set) var generation: UInt64 = 0

    func setListening(_ isListening: Bool) {
        if isListening != listening { forgetAll() }
        listening = isListening
    }

    func isLive(_ key: Key) -> Bool {
        guard let until = live[key] else { return false }
        guard ContinuousClock.now < until else {
            live[key] = nil
            return false
        }
        return true
    }

    /// `readAt`: the generation before the database confirmed the session.
    func remember(_ key: Key, readAt: UInt64) {
        guard readAt == generation else { return }
        if live.count >= Self.maxEntries { live = live.filter { ContinuousClock.now < $0.value } }
        if live.count >= Self.maxEntries { live.removeAll(keepingCapacity: true) }
        live[key] = .now + (listening ? Self.lifetimeListening : Self.lifetimeUnlistened)
    }

    func forget(_ tenant: TenantID) {
        generation &+= 1
        live = live.filter { $0.key.tenant != tenant }
    }

    func forgetAll() {
        generation &+= 1
        live.removeAll()
    }
}

import Logging
import RampartCore
import RampartStore
import ServiceLifecycle

/// Listens on the `rampart_changes` channel (admin changes — suspension, scopes, limits,
/// redaction — and revoked or ended conversations) and drops this process's cached tenant state
/// and sessions at once, so a change reaches every process well within a second. While the
/// listener is down, or its subscription has not heard its own probe (`ChangeFeed`), the caches
/// fall back to a 500 ms lifetime.
struct ChangeListener: Service {
    let databaseURL: DatabaseURL
    let auth: AuthCache
    let sessions: SessionCache
    /// Runs when the listener is subscribed again after losing its connection: the database is
    /// back, and the pool should not wait out its backoff (`RenewablePool`).
    let databaseReturned: @Sendable () -> Void
    let logger: Logger

    func run() async throws {
        var retry: Duration = .seconds(1)
        var lost = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let renewPool = lost
            do {
                try await cancelWhenGracefulShutdown {
                    try await ChangeFeed.listen(
                        at: databaseURL,
                        logger: logger,
                        listening: {
                            if renewPool { databaseReturned() }
                            auth.setListening(true)
                            await sessions.setListening(true)
                        },
                        change: handle
                    )
                }
            } catch let error as ChangeFeed.NotDelivered {
                // A configuration problem, not a blip: say so, and retry less often.
                logger.warning("\(error.description); caches keep their 500 ms lifetime")
                retry = .seconds(30)
                lost = true
            } catch {
                if !Task.isShuttingDownGracefully {
                    DatabaseErrors.log(error, "change listener disconnected", level: .warning, logger: logger)
                }
                retry = .seconds(1)
                lost = true
            }
            auth.setListening(false)
            await sessions.setListening(false)
            let wait = retry
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }

    @Sendable private func handle(_ payload: String) async {
        guard let change = try? JSONParser.parse(payload, maxDepth: 4), let tenantText = change["tenant"]?.stringValue,
            let tenant = try? TenantID(validating: tenantText)
        else {
            auth.forgetAllTenants()
            await sessions.forgetAll()
            return
        }
        auth.forget(tenant)
        await sessions.forget(tenant)
    }
}

import Logging
import PostgresNIO
import RampartCore
import RampartStore
import ServiceLifecycle

/// Listens on the `rampart_changes` channel (sql/003, 005: suspend, scopes, limits, revocation)
/// and drops this process's cached tenant state at once, so an admin change reaches every
/// process well within a second. While the listener is down the caches fall back to a 500 ms
/// lifetime; conversations are never cached (each call re-reads its row in its transaction).
struct ChangeListener: Service {
    static let channel = "rampart_changes"

    let databaseURL: DatabaseURL
    let auth: AuthActor
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await databaseURL.withConnection(logger: logger) { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        await auth.setListening(true)
                        for try await notification in notifications.cancelOnGracefulShutdown() {
                            await handle(notification.payload)
                        }
                    }
                }
            } catch {
                logger.warning("change listener disconnected", metadata: ["error": "\(DatabaseErrors.map(error))"])
            }
            await auth.setListening(false)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }

    private func handle(_ payload: String) async {
        guard let change = try? JSONParser.parse(payload, maxDepth: 4), let tenantText = change["tenant"]?.stringValue,
            let tenant = try? TenantID(validating: tenantText)
        else {
            await auth.forgetAllTenants()
            return
        }
        await auth.forget(tenant)
    }
}

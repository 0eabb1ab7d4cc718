import Logging
import PostgresNIO
import RampartStore
import ServiceLifecycle

/// Deletes conversations that ended more than an hour ago, once a minute (any process may; the
/// statement is idempotent).
struct ConversationSweeper: Service {
    static let interval: Duration = .seconds(60)

    let database: Database
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let logger = logger
                _ = try await database.withConnection(until: .now + .seconds(30)) { connection in
                    try await connection.fetch("SELECT rampart.sweep_conversations(3600)", logger: logger).count
                }
            } catch {
                DatabaseErrors.log(error, "conversation sweep failed", level: .warning, logger: logger)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
        }
    }
}

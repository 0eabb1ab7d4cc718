import Logging
import PostgresNIO
import RampartStore
import ServiceLifecycle

/// Deletes conversations that ended more than an hour ago, once a minute (any process may; the
/// statement is idempotent).
struct ConversationSweeper: Service {
    static let interval: Duration = .seconds(60)

    let client: PostgresClient
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await client.withMeteredConnection { connection in
                    try await connection.query("SELECT rampart.sweep_conversations(3600)", logger: logger)
                        .collect()
                }
            } catch {
                logger.warning("conversation sweep failed", metadata: ["error": "\(DatabaseErrors.map(error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
        }
    }
}

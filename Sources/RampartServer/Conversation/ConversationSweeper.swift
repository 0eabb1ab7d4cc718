import Logging
import PostgresNIO
import RampartStore
import ServiceLifecycle

/// Deletes conversations that ended more than an hour ago, once a minute (any process may; the
/// statement is idempotent).
struct ConversationSweeper: Service {
    static let interval: Duration = .seconds(60)

    let conversations: ConversationStore
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                _ = try await conversations.sweep(grace: .seconds(3600), until: .now + .seconds(30))
            } catch {
                DatabaseErrors.log(error, "conversation sweep failed", level: .warning, logger: logger)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
        }
    }
}

import Logging
import PostgresNIO
import RampartStore
import ServiceLifecycle

/// Once a minute, deletes what no call can need any more: conversations that ended more than an
/// hour ago, and rate-limit cells whose arrival time has passed (docs/limits.md "Bounded state").
/// Any process may run it; both statements are idempotent.
struct StateSweeper: Service {
    static let interval: Duration = .seconds(60)
    /// Cells per statement; a backlog is swept in several statements of one cycle.
    static let cellsPerSweep = 10_000
    static let maxSweepsPerCycle = 20

    let conversations: ConversationStore
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                _ = try await conversations.sweep(grace: .seconds(3600), until: .now + .seconds(30))
            } catch {
                DatabaseErrors.log(error, "conversation sweep failed", level: .warning, logger: logger)
            }
            do {
                for _ in 0..<Self.maxSweepsPerCycle {
                    let swept = try await conversations.sweepRateCells(
                        max: Self.cellsPerSweep,
                        until: .now + .seconds(30)
                    )
                    if swept < Self.cellsPerSweep { break }
                }
            } catch {
                DatabaseErrors.log(error, "rate-limit cell sweep failed", level: .warning, logger: logger)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
        }
    }
}

import Logging
import PostgresNIO
import RampartCore
import RampartStore
import ServiceLifecycle

/// The audit loop of every server process: flush batched events, then seal what has committed
/// into the hash chain (one sealer at a time across processes; the others find the lock taken).
/// On graceful shutdown it runs once more after the HTTP server has stopped taking requests.
struct AuditService: Service {
    static let interval: Duration = .milliseconds(200)
    static let sealBatch = 2000
    static let maxBatchesPerCycle = 50

    let audit: AuditActor
    let log: AuditLog
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: Self.interval)
            await cycle()
        }
        await cycle()
    }

    /// Flushes, then seals until the queue is shorter than a batch (so the chain keeps up with any
    /// rate of events), a bounded number of batches per cycle.
    func cycle() async {
        await audit.flush()
        do {
            for _ in 0..<Self.maxBatchesPerCycle {
                let sealed = try await log.seal(max: Self.sealBatch, until: .now + AuditActor.writeTimeout)
                RampartMetrics.auditSealed(sealed)
                if sealed < Self.sealBatch { break }
            }
        } catch {
            DatabaseErrors.log(error, "audit sealing failed", level: .warning, logger: logger)
        }
    }
}

import RampartCore
import RampartStore

/// Coalesces one operation's calls per tenant (docs/architecture.md, "Coalescing"): while a
/// tenant's transaction is in flight, its new calls wait, and when it ends they go together as
/// the next batch — one transaction, one commit, every call still decided on its own, in arrival
/// order, by the call function. A tenant's calls share its budget row and tenant-level rate cell,
/// which each transaction holds until its commit is flushed; one commit for many calls is how a
/// busy tenant gets past that one row's commit rate without giving up exactness.
///
/// The first waiting call leads the next batch: it runs the batch on its own task and hands each
/// follower its answer, so no task is started here. A call waits for at most the transaction in
/// flight (and the backlog beyond `maxBatch`, when there is one).
actor CallCoalescer<Call: Sendable> {
    typealias Run = @Sendable ([Call], TenantID, ContinuousClock.Instant) async throws -> [CallAnswer]

    private struct Waiting: Sendable {
        let call: Call
        let deadline: ContinuousClock.Instant
        let turn: CheckedContinuation<Turn, Never>
    }

    private enum Turn: Sendable {
        case answered(Result<CallAnswer, any Error>)
        case lead([Waiting])
        /// The batch failed as a whole: run this call again on its own.
        case alone
    }

    /// A tenant is a key here exactly while one of its batches is in flight.
    private var waiting: [TenantID: [Waiting]] = [:]
    private let operation: String
    private let maxBatch: Int
    private let run: Run

    init(_ operation: String, maxBatch: Int, run: @escaping Run) {
        precondition(maxBatch >= 1)
        self.operation = operation
        self.maxBatch = maxBatch
        self.run = run
    }

    func submit(_ call: Call, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws -> CallAnswer {
        guard waiting[tenant] != nil else {
            waiting[tenant] = []
            return try await lead(call, deadline, followers: [], tenant: tenant)
        }
        let turn = await withCheckedContinuation { turn in
            waiting[tenant, default: []].append(Waiting(call: call, deadline: deadline, turn: turn))
        }
        switch turn {
        case .answered(let answer): return try answer.get()
        case .lead(let followers): return try await lead(call, deadline, followers: followers, tenant: tenant)
        case .alone: return try await run([call], tenant, deadline)[0]
        }
    }

    private func lead(
        _ call: Call,
        _ deadline: ContinuousClock.Instant,
        followers: [Waiting],
        tenant: TenantID
    ) async throws -> CallAnswer {
        let calls = [call] + followers.map(\.call)
        let earliest = followers.reduce(deadline) { min($0, $1.deadline) }
        RampartMetrics.callBatch(operation: operation, size: calls.count)
        let answers: Result<[CallAnswer], any Error>
        do {
            answers = .success(try await run(calls, tenant, earliest))
        } catch {
            answers = .failure(error)
        }
        handOver(tenant)
        switch answers {
        case .success(let answers):
            for (follower, answer) in zip(followers, answers.dropFirst()) {
                follower.turn.resume(returning: .answered(.success(answer)))
            }
            return answers[0]
        case .failure(let error) where Self.rolledBack(error):
            // Nothing of the batch committed. Each call with time left runs again on its own, so
            // it fails alone for its own reason, and never before its own deadline because an
            // earlier call's deadline stopped the batch.
            for follower in followers {
                let alone = ContinuousClock.now < follower.deadline
                follower.turn.resume(returning: alone ? .alone : .answered(.failure(error)))
            }
            guard !followers.isEmpty, ContinuousClock.now < deadline else { throw error }
            return try await run([call], tenant, deadline)[0]
        case .failure(let error):
            for follower in followers { follower.turn.resume(returning: .answered(.failure(error))) }
            throw error
        }
    }

    /// The next batch of the tenant's waiting calls starts, led by the first of them.
    private func handOver(_ tenant: TenantID) {
        guard var queue = waiting[tenant], !queue.isEmpty else {
            waiting[tenant] = nil
            return
        }
        let batch = queue.prefix(maxBatch)
        queue.removeFirst(batch.count)
        waiting[tenant] = queue
        batch[batch.startIndex].turn.resume(returning: .lead(Array(batch.dropFirst())))
    }

    /// The database reported the error for the statement itself, so its transaction rolled back
    /// (a lock or statement timeout included) — unlike a lost connection, after which nobody knows
    /// whether the batch committed and no call of it may run again.
    static func rolledBack(_ error: any Error) -> Bool {
        guard let state = DatabaseErrors.sqlState(error) else { return false }
        return !state.hasPrefix("08")
    }
}

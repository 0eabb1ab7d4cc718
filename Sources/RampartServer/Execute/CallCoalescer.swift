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
        case .failure(let error) where !followers.isEmpty && Self.rolledBackByTheStatement(error):
            // One call's error failed the whole batch and nothing committed: each call runs again
            // alone, so it fails alone.
            for follower in followers { follower.turn.resume(returning: .alone) }
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

    /// The database raised an error in the statement itself (so its transaction rolled back), not
    /// a lost connection, a deadline, or a shutdown, after which running again would not help.
    static func rolledBackByTheStatement(_ error: any Error) -> Bool {
        guard let state = DatabaseErrors.sqlState(error) else { return false }
        let unavailable = ["08", "53", "57"].contains(String(state.prefix(2))) || state == "55P03"
        return !unavailable
    }
}

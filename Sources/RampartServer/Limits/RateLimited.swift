import Foundation
import RampartCore
import RampartMCP
import RampartStore

/// A refusal by a rate limit (CONTRACT.md §10): HTTP 429 with `Retry-After` and -32050 naming the
/// limit, so an agent learns why and when to retry.
struct RateLimited: Error, Sendable, Equatable {
    /// tenant, user, conversation, resource or conversation_creation.
    let limit: String
    let retryAfterMs: Int64

    func reply(id: JSONRPCID?) -> MCPReply {
        let error = JSONRPCError(
            .rateLimited,
            "rate limited: too many \(limit == "conversation_creation" ? "new conversations" : "calls"); retry later",
            data: ["limit": .string(limit), "retryAfterMs": .int(retryAfterMs)],
            id: id
        )
        let seconds = max(1, (retryAfterMs + 999) / 1000)
        return MCPReply(status: 429, headers: ["Retry-After": String(seconds)], body: error.body())
    }
}

/// A refusal by a daily budget: HTTP 429 until the next UTC midnight, -32051 naming the budget.
struct BudgetExhausted: Sendable {
    let refusal: BudgetRefusal

    func reply(id: JSONRPCID?) -> MCPReply {
        let error = JSONRPCError(
            .budgetExhausted,
            "budget exhausted: the \(refusal.budget) budget for today is spent",
            data: ["budget": .string(refusal.budget), "resetsAt": .string(Timestamp.iso8601(refusal.resetsAt))],
            id: id
        )
        let seconds = max(1, Int(refusal.resetsAt.timeIntervalSinceNow.rounded(.up)))
        return MCPReply(status: 429, headers: ["Retry-After": String(seconds)], body: error.body())
    }
}

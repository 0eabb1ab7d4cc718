import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// The rate limits of one data call (CONTRACT.md §10): the tenant's cell, the user's, the
/// conversation's and — for a call on one document — the resource's, decided together by one
/// statement in a transaction of its own: the cells' locks are held only for that statement, not
/// for the whole call, and since the cells are UNLOGGED state the commit need not wait for a WAL
/// flush.
struct RateGate: Sendable {
    let database: Database
    let deadline: ContinuousClock.Instant
    let principal: Principal
    let tenant: TenantAccess
    let logger: Logger

    func cells(conversation: String?, resource: String?) -> [RateCell] {
        var cells = [
            RateCell(limit: "tenant", key: "tenant", perMinute: tenant.tenantPerMinute),
            RateCell(
                limit: "user",
                key: "user:\(principal.issuer)\u{1F}\(principal.subject)",
                perMinute: tenant.userPerMinute
            ),
        ]
        if let conversation {
            cells.append(
                RateCell(
                    limit: "conversation",
                    key: "conversation:\(conversation)",
                    perMinute: tenant.conversationPerMinute
                )
            )
        }
        if let resource {
            cells.append(RateCell(limit: "resource", key: "resource:\(resource)", perMinute: tenant.resourcePerMinute))
        }
        return cells
    }

    /// Charges the call to every cell, or to none and throws `RateLimited` naming the refusing one.
    func admit(conversation: String?, resource: String?) async throws {
        let cells = cells(conversation: conversation, resource: resource)
        let (tenant, logger, deadline) = (principal.tenant, logger, deadline)
        let refusal = try await database.withConnection(until: deadline) { connection in
            try await RateLimitStore.admit(cells, tenant: tenant, on: connection, logger: logger)
        }
        if let refusal { throw RateLimited(limit: refusal.limit, retryAfterMs: refusal.retryAfterMs) }
    }
}

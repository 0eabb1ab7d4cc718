import RampartCore
import RampartStore

/// The data calls as the tool handlers make them: one call in, its answer out, coalesced with the
/// same tenant's concurrent calls of the same operation (`CallCoalescer`). Previews and peeks,
/// which change nothing, go to the store as they are.
struct CoalescedCalls: Sendable {
    let store: CallStore
    private let reads: CallCoalescer<CallStore.Read>
    private let lists: CallCoalescer<CallStore.List>
    private let searches: CallCoalescer<CallStore.Search>
    private let writes: CallCoalescer<CallStore.Write>
    private let queries: CallCoalescer<CallStore.Query>

    init(store: CallStore, maxBatch: Int) {
        self.store = store
        reads = CallCoalescer("read", maxBatch: maxBatch) { try await store.read($0, tenant: $1, until: $2) }
        lists = CallCoalescer("list", maxBatch: maxBatch) { try await store.list($0, tenant: $1, until: $2) }
        searches = CallCoalescer("search", maxBatch: maxBatch) { try await store.search($0, tenant: $1, until: $2) }
        writes = CallCoalescer("write", maxBatch: maxBatch) { try await store.write($0, tenant: $1, until: $2) }
        queries = CallCoalescer("query", maxBatch: maxBatch) { try await store.query($0, tenant: $1, until: $2) }
    }

    func read(_ call: CallStore.Read, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> CallAnswer
    {
        try await reads.submit(call, tenant: tenant, until: deadline)
    }

    func list(_ call: CallStore.List, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> CallAnswer
    {
        try await lists.submit(call, tenant: tenant, until: deadline)
    }

    func search(_ call: CallStore.Search, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> CallAnswer
    {
        try await searches.submit(call, tenant: tenant, until: deadline)
    }

    func write(_ call: CallStore.Write, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> CallAnswer
    {
        try await writes.submit(call, tenant: tenant, until: deadline)
    }

    func query(_ call: CallStore.Query, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> CallAnswer
    {
        try await queries.submit(call, tenant: tenant, until: deadline)
    }
}

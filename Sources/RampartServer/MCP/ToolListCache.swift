import RampartCore
import RampartMCP
import Synchronization

/// `tools/list` results, built and serialized once per (scope set, era) — the definitions are
/// fixed at build time, so the answer depends on nothing else.
final class ToolListCache: Sendable {
    private struct Key: Hashable {
        let scopes: Set<Scope>
        let stateless: Bool
    }

    private let results = Mutex<[Key: [UInt8]]>([:])

    /// The serialized `result` member of a `tools/list` answer.
    func result(for scopes: Set<Scope>, era: ProtocolEra) -> [UInt8] {
        let shaper = ResultShaper(era: era)
        let key = Key(scopes: scopes, stateless: shaper.isStateless)
        if let cached = results.withLock({ $0[key] }) { return cached }
        let tools = ToolCatalog.visible(to: scopes)
        let encoded = shaper.cacheable(["tools": .array(tools.map(\.json))], ttlMs: 60_000).jsonBytes
        results.withLock { $0[key] = encoded }
        return encoded
    }
}

/// A conversation's scope as the store applies it to listings, searches and queries: the whole
/// tenant, whole collections, or single documents.
public struct ScopeFilter: Sendable, Equatable {
    public let wholeTenant: Bool
    public let collections: [String]
    /// `collection/id` of each single-document pattern (neither part can contain `/`).
    public let documents: [String]

    public init(_ patterns: [ScopePattern], tenant: TenantID) {
        let own = patterns.filter { $0.tenant == tenant }
        wholeTenant = own.contains { $0.collection == nil }
        collections = own.compactMap { $0.id == nil ? $0.collection?.rawValue : nil }
        documents = own.compactMap { pattern in
            guard let collection = pattern.collection, let id = pattern.id else { return nil }
            return "\(collection)/\(id)"
        }
    }

    /// Everything of the tenant.
    public static func everything(of tenant: TenantID) -> ScopeFilter {
        ScopeFilter([ScopePattern(tenant: tenant)], tenant: tenant)
    }
}

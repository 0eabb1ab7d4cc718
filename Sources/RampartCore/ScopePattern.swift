/// A conversation scope entry (CONTRACT.md §9): `tenant://acme/*`, `tenant://acme/sales/*` or
/// one document's URI. Patterns only ever name whole segments, so matching is exact.
public struct ScopePattern: Sendable, Hashable, CustomStringConvertible {
    public let tenant: TenantID
    public let collection: CollectionName?
    public let id: DocumentID?

    public init(parsing raw: String) throws(RampartError) {
        let invalid = RampartError.invalidArgument(
            "invalid scope pattern \(IdentifierRule.quoted(raw)): expected tenant://{tenant}/*, "
                + "tenant://{tenant}/{collection}/* or a resource URI"
        )
        guard raw.utf8.count <= 256, raw.hasPrefix(ResourceURI.scheme) else { throw invalid }
        let segments = raw.dropFirst(ResourceURI.scheme.count).split(separator: "/", omittingEmptySubsequences: false)
        do {
            switch segments.count {
            case 2 where segments[1] == "*":
                tenant = try TenantID(validating: String(segments[0]))
                (collection, id) = (nil, nil)
            case 3 where segments[2] == "*":
                tenant = try TenantID(validating: String(segments[0]))
                collection = try CollectionName(validating: String(segments[1]))
                id = nil
            case 3:
                let uri = try ResourceURI(parsing: raw)
                (tenant, collection, id) = (uri.tenant, uri.collection, uri.id)
            default:
                throw invalid
            }
        } catch {
            throw invalid
        }
    }

    /// Everything of one tenant.
    public init(tenant: TenantID) {
        self.tenant = tenant
        (collection, id) = (nil, nil)
    }

    public func matches(_ uri: ResourceURI) -> Bool {
        uri.tenant == tenant && (collection.map { $0 == uri.collection } ?? true) && (id.map { $0 == uri.id } ?? true)
    }

    /// Whether this pattern admits nothing that `other` does not.
    public func isWithin(_ other: ScopePattern) -> Bool {
        guard tenant == other.tenant else { return false }
        if let otherCollection = other.collection, collection != otherCollection { return false }
        if let otherID = other.id, id != otherID { return false }
        return true
    }

    public var description: String {
        switch (collection, id) {
        case (nil, _): "\(ResourceURI.scheme)\(tenant)/*"
        case (let collection?, nil): "\(ResourceURI.scheme)\(tenant)/\(collection)/*"
        case (let collection?, let id?): "\(ResourceURI.scheme)\(tenant)/\(collection)/\(id)"
        }
    }
}

/// `tenant://{tenant}/{collection}/{id}`: the one parser every layer uses (CONTRACT.md §7).
///
/// Parsing is strict: no percent-decoding, no dot segments, no query or fragment, no trailing
/// slash. Anything that is not exactly three valid segments after the scheme is invalid.
public struct ResourceURI: Sendable, Hashable, Comparable, CustomStringConvertible {
    public static let scheme = "tenant://"

    public let tenant: TenantID
    public let collection: CollectionName
    public let id: DocumentID

    public init(tenant: TenantID, collection: CollectionName, id: DocumentID) {
        self.tenant = tenant
        self.collection = collection
        self.id = id
    }

    public init(parsing raw: String) throws(RampartError) {
        guard raw.utf8.count <= 256, raw.hasPrefix(Self.scheme) else {
            throw .invalidArgument(
                "invalid resource URI \(IdentifierRule.quoted(raw)): expected tenant://{tenant}/{collection}/{id}"
            )
        }
        let segments = raw.dropFirst(Self.scheme.count).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 3 else {
            throw .invalidArgument(
                "invalid resource URI \(IdentifierRule.quoted(raw)): expected tenant://{tenant}/{collection}/{id}"
            )
        }
        tenant = try TenantID(validating: String(segments[0]))
        collection = try CollectionName(validating: String(segments[1]))
        id = try DocumentID(validating: String(segments[2]))
    }

    public var description: String { "\(Self.scheme)\(tenant)/\(collection)/\(id)" }

    public static func < (lhs: ResourceURI, rhs: ResourceURI) -> Bool { lhs.description < rhs.description }
}

import Foundation
import RampartCore

/// An opaque `list_resources` / `resources/list` cursor: where the next page starts, bound to the
/// tenant and the listing it came from, so it means nothing to another tenant or another listing.
struct ResourceCursor: Sendable, Equatable {
    let tenant: TenantID
    let collection: CollectionName?
    let afterCollection: String
    let afterID: String

    var encoded: String {
        let payload: JSONValue = [
            "t": .string(tenant.rawValue),
            "c": collection.map { .string($0.rawValue) } ?? .null,
            "a": [.string(afterCollection), .string(afterID)],
        ]
        return Base64URL.encode(payload.jsonText.utf8)
    }

    /// The cursor, if it is one this tenant got for this listing.
    init(decoding raw: String, tenant: TenantID, collection: CollectionName?) throws(RampartError) {
        let invalid = ArgumentReader.invalid("cursor", "not a cursor from this listing")
        guard let bytes = Base64URL.decode(Substring(raw)),
            let payload = try? JSONParser.parse(bytes, maxDepth: 3),
            payload["t"]?.stringValue == tenant.rawValue, payload["c"]?.stringValue == collection?.rawValue,
            let after = payload["a"]?.arrayValue, after.count == 2,
            let afterCollection = after[0].stringValue, let afterID = after[1].stringValue,
            (try? CollectionName(validating: afterCollection)) != nil, (try? DocumentID(validating: afterID)) != nil
        else { throw invalid }
        self.init(tenant: tenant, collection: collection, afterCollection: afterCollection, afterID: afterID)
    }

    init(tenant: TenantID, collection: CollectionName?, afterCollection: String, afterID: String) {
        self.tenant = tenant
        self.collection = collection
        self.afterCollection = afterCollection
        self.afterID = afterID
    }
}

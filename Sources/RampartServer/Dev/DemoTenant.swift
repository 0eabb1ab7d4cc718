import RampartCore
import RampartStore

/// The `demo` tenant of `--dev`: every scope, and sample documents in two collections (`sales`
/// and `hr`) to try scoping, search and redaction on.
enum DemoTenant {
    static let documents: [(collection: String, id: String, body: String)] = [
        (
            "sales", "q1",
            #"{"title": "Q1 pipeline review", "region": "emea", "amount": 125000, "owner": "dana", "notes": "Renewals strong in Germany; two expansions slipped to Q2."}"#
        ),
        (
            "sales", "q2",
            #"{"title": "Q2 forecast", "region": "amer", "amount": 98000, "owner": "lee", "notes": "New logo pipeline doubled after the conference."}"#
        ),
        (
            "sales", "q3",
            #"{"title": "Q3 enterprise deals", "region": "apac", "amount": 143500, "owner": "dana", "notes": "Three enterprise renewals, one churn risk flagged."}"#
        ),
        (
            "hr", "alice",
            #"{"name": "Alice Martin", "title": "Engineer", "ssn": "123-45-6789", "salary": 128000, "contact": {"email": "alice@example.com", "phone": "+1 415 555 0100"}}"#
        ),
        (
            "hr", "bob",
            #"{"name": "Bob Okafor", "title": "Account executive", "ssn": "987-65-4321", "salary": 97000, "contact": {"email": "bob@example.com", "phone": "+1 415 555 0101"}}"#
        ),
    ]

    static func provision(_ store: ProvisioningStore) async throws {
        let tenant = try TenantID(validating: DevEnvironment.tenant)
        if try await !store.listTenants().contains(where: { $0.id == tenant.rawValue }) {
            _ = try await store.createTenant(tenant, name: "Demo tenant", dailyBudget: nil, scopes: Scope.all)
        }
        let present = Set(try await store.listDocuments(tenant, collection: nil).map(\.uri))
        for document in documents {
            let uri = ResourceURI(
                tenant: tenant,
                collection: try CollectionName(validating: document.collection),
                id: try DocumentID(validating: document.id)
            )
            if present.contains(uri.description) { continue }
            _ = try await store.putDocument(uri, bodyJSON: document.body)
        }
    }
}

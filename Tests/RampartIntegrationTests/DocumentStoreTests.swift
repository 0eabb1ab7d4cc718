import PostgresNIO
import RampartCore
import RampartStore
import Testing

/// The server's document queries against a real database: what `execute_query` compiles to,
/// pagination, search, optimistic writes — and that none of it crosses a tenant.
@Suite(.enabled(if: TestDatabase.isConfigured)) struct DocumentStoreTests {
    static let sales: [(String, String)] = [
        (
            "q1",
            #"{"region": "emea", "amount": 100, "owner": "dana", "tags": ["renewal"], "contact": {"country": "de"}}"#
        ),
        ("q2", #"{"region": "amer", "amount": 250, "owner": "lee", "tags": ["expansion", "renewal"]}"#),
        ("q3", #"{"region": "emea", "amount": "n/a", "owner": "Dana Smith"}"#),
        ("q4", #"{"region": "apac", "amount": 40}"#),
    ]

    func tenantWithSales() async throws -> TenantID {
        let tenant = try await TestDatabase.newTenant("ds", documents: 0)
        try await TestDatabase.asAdmin { connection in
            let store = ProvisioningStore(connection: connection, logger: TestDatabase.logger)
            for (id, body) in Self.sales {
                _ = try await store.putDocument(
                    try ResourceURI(parsing: "tenant://\(tenant)/sales/\(id)"),
                    bodyJSON: body
                )
            }
        }
        return tenant
    }

    func query(
        _ tenant: TenantID,
        _ arguments: [String: JSONValue],
        within scope: [String]? = nil
    ) async throws -> [JSONValue] {
        let filter =
            try scope.map { ScopeFilter(try $0.map(ScopePattern.init(parsing:)), tenant: tenant) }
            ?? .everything(of: tenant)
        let reader = try ArgumentReader(
            arguments,
            allowed: ["collection", "where", "group_by", "aggregate", "order_by", "limit"]
        )
        let compiled = try DocumentQuery(arguments: reader)
        return try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(tenant, on: connection) { connection in
                try await DocumentStore(connection: connection, tenant: tenant, logger: TestDatabase.logger).query(
                    compiled,
                    within: filter
                )
            }
        }
    }

    func ids(_ rows: [JSONValue]) -> [String] {
        rows.compactMap { $0["uri"]?.stringValue?.split(separator: "/").last.map(String.init) }
    }

    @Test func comparisonsAreTypeSafeAndNeverFail() async throws {
        let tenant = try await tenantWithSales()
        let filtered: (String, JSONValue) -> [String: JSONValue] = { op, value in
            ["collection": "sales", "where": [["field": "amount", "op": .string(op), "value": value]]]
        }
        #expect(ids(try await query(tenant, filtered("gt", 50))) == ["q1", "q2"])
        #expect(ids(try await query(tenant, filtered("le", 100))) == ["q1", "q4"])
        #expect(ids(try await query(tenant, filtered("eq", "n/a"))) == ["q3"])
        #expect(ids(try await query(tenant, filtered("ne", 100))) == ["q2", "q3", "q4"])
        #expect(ids(try await query(tenant, filtered("in", [40, 250]))) == ["q2", "q4"])
    }

    @Test func containsMatchesSubstringsAndArrayMembers() async throws {
        let tenant = try await tenantWithSales()
        let contains: (String, JSONValue) -> [String: JSONValue] = { field, value in
            ["collection": "sales", "where": [["field": .string(field), "op": "contains", "value": value]]]
        }
        #expect(ids(try await query(tenant, contains("owner", "DANA"))) == ["q1", "q3"])
        #expect(ids(try await query(tenant, contains("tags", "renewal"))) == ["q1", "q2"])
        #expect(ids(try await query(tenant, contains("contact.country", "d"))) == ["q1"])
    }

    @Test func groupsAggregatesAndOrdering() async throws {
        let tenant = try await tenantWithSales()
        let rows = try await query(
            tenant,
            [
                "collection": "sales", "group_by": ["region"],
                "aggregate": [["fn": "count"], ["fn": "sum", "field": "amount"], ["fn": "max", "field": "amount"]],
                "order_by": [["field": "count", "direction": "desc"]],
            ]
        )
        #expect(
            rows == [
                ["region": "emea", "count": 2, "sum(amount)": 100, "max(amount)": 100],
                ["region": "amer", "count": 1, "sum(amount)": 250, "max(amount)": 250],
                ["region": "apac", "count": 1, "sum(amount)": 40, "max(amount)": 40],
            ]
        )
        let ordered = try await query(tenant, ["collection": "sales", "order_by": ["-amount"], "limit": 2])
        #expect(ids(ordered) == ["q2", "q1"])  // jsonb sorts every number after every string
    }

    @Test func nothingCrossesATenant() async throws {
        let mine = try await tenantWithSales()
        let theirs = try await tenantWithSales()
        let rows = try await query(mine, ["collection": "sales"])
        #expect(rows.count == 4)
        #expect(rows.allSatisfy { $0["uri"]?.stringValue?.hasPrefix("tenant://\(mine)/") == true })

        try await TestDatabase.asApp { connection in
            // A store told the wrong tenant inside another tenant's transaction still sees nothing:
            // the database wall holds even if the code's own predicate were wrong.
            try await TestDatabase.asTenant(mine, on: connection) { connection in
                let confused = DocumentStore(connection: connection, tenant: theirs, logger: TestDatabase.logger)
                let collection = try CollectionName(validating: "sales")
                #expect(try await confused.read(collection, try DocumentID(validating: "q1")) == nil)
                let all = ScopeFilter.everything(of: theirs)
                #expect(try await confused.list(collection: nil, after: nil, limit: 100, within: all).documents.isEmpty)
                #expect(try await confused.search("emea", collection: nil, limit: 10, within: all).isEmpty)
            }
        }
    }

    @Test func aScopeRestrictsQueriesToItsCollectionsAndDocuments() async throws {
        let tenant = try await tenantWithSales()
        #expect(try await query(tenant, ["collection": "sales"], within: ["tenant://\(tenant)/hr/*"]).isEmpty)
        let single = try await query(tenant, ["collection": "sales"], within: ["tenant://\(tenant)/sales/q2"])
        #expect(ids(single) == ["q2"])
        let counted = try await query(
            tenant,
            ["collection": "sales", "aggregate": [["fn": "count"]]],
            within: ["tenant://\(tenant)/sales/q1", "tenant://\(tenant)/sales/q4"]
        )
        #expect(counted == [["count": 2]])
        #expect(ids(try await query(tenant, ["collection": "sales"], within: [])).isEmpty)
    }

    @Test func pagesAndOptimisticWrites() async throws {
        let tenant = try await tenantWithSales()
        try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(tenant, on: connection) { connection in
                let store = DocumentStore(connection: connection, tenant: tenant, logger: TestDatabase.logger)
                let everything = ScopeFilter.everything(of: tenant)
                let first = try await store.list(collection: nil, after: nil, limit: 3, within: everything)
                #expect(
                    first.documents.map(\.uri).map { $0.hasSuffix("/q1") || $0.hasSuffix("/q2") || $0.hasSuffix("/q3") }
                        == [true, true, true]
                )
                let rest = try await store.list(collection: nil, after: first.next, limit: 3, within: everything)
                #expect(rest.documents.count == 1 && rest.next == nil)

                let notes = try CollectionName(validating: "notes")
                let id = try DocumentID(validating: "n1")
                #expect(try await store.write(notes, id, bodyJSON: #"{"a": 1}"#, ifVersion: 0).version == 1)
                await #expect(throws: RampartError.self) {
                    try await store.write(notes, id, bodyJSON: #"{"a": 2}"#, ifVersion: 0)
                }
                #expect(try await store.write(notes, id, bodyJSON: #"{"a": 2}"#, ifVersion: 1).version == 2)
                #expect(try await store.write(notes, id, bodyJSON: #"{"a": 3}"#, ifVersion: nil).version == 3)
            }
        }
    }
}

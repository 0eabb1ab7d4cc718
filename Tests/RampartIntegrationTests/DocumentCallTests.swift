import Foundation
import PostgresNIO
import RampartCore
import RampartStore
import Testing

/// The server's document calls against a real database: what `execute_query` compiles to,
/// pagination, optimistic writes — and that none of it crosses a tenant.
@Suite(.enabled(if: TestDatabase.isConfigured)) struct DocumentCallTests {
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

    func identity(_ tenant: TenantID, tool: String, scope: [String]? = nil) -> CallIdentity {
        TestDatabase.caller(tenant, tool: tool, scope: scope)
    }

    var deadline: ContinuousClock.Instant { .now + .seconds(10) }

    func query(
        _ tenant: TenantID,
        _ arguments: [String: JSONValue],
        within scope: [String]? = nil
    ) async throws -> [JSONValue] {
        let reader = try ArgumentReader(
            arguments,
            allowed: ["collection", "where", "group_by", "aggregate", "order_by", "limit"]
        )
        let compiled = try DocumentQuery(arguments: reader)
        var answers: [CallAnswer] = []
        try await TestDatabase.withCalls { calls in
            let call = CallStore.Query(
                identity: identity(tenant, tool: "execute_query", scope: scope),
                query: compiled,
                scalarsOnly: false
            )
            answers = try await calls.query([call], tenant: tenant, until: deadline)
        }
        let answer = try #require(answers.first)
        #expect(answer.outcome == .ok)
        return try JSONParser.parse(answer.payload ?? "[]").arrayValue ?? []
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

        try await TestDatabase.withCalls { calls in
            // A call naming another tenant's document finds nothing, like a missing one.
            let read = CallStore.Read(
                identity: identity(theirs, tool: "read_resource"),
                uri: try ResourceURI(parsing: "tenant://\(mine)/sales/q1"),
                rules: nil
            )
            #expect(try await calls.read([read], tenant: theirs, until: deadline).first?.outcome == .notFound)
        }
        try await TestDatabase.asApp { connection in
            // Inside one tenant's transaction another tenant's rows do not exist, even asked for by
            // their tenant id, and no call function runs for another tenant: the database wall
            // holds even if the code's own predicate were wrong.
            try await TestDatabase.asTenant(mine, on: connection) { connection in
                let theirRows = try await TestDatabase.count(
                    "SELECT count(*)::bigint FROM rampart.documents WHERE tenant_id = \(theirs.rawValue)",
                    on: connection
                )
                #expect(theirRows == 0)
                let refusal = await TestDatabase.sqlState(
                    of: "SELECT * FROM rampart.call_list(\(theirs.rawValue), '{}', '[]')",
                    on: connection
                )
                #expect(refusal == "42501")
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
        try await TestDatabase.withCalls { calls in
            /// A page of `[collection, id, …]` rows and where the next one starts.
            func page(after: (String, String)?) async throws -> (uris: [String], next: (String, String)?) {
                let call = CallStore.List(
                    identity: identity(tenant, tool: "list_resources"),
                    collection: nil,
                    after: after,
                    limit: 3
                )
                let answer = try #require(try await calls.list([call], tenant: tenant, until: deadline).first)
                let rows = (try JSONParser.parse(answer.payload ?? "[]").arrayValue ?? []).compactMap { row in
                    row.arrayValue.flatMap { cells in
                        cells.count >= 2 ? (cells[0].stringValue ?? "", cells[1].stringValue ?? "") : nil
                    }
                }
                let shown = Array(rows.prefix(3))
                return (shown.map { "tenant://\(tenant)/\($0.0)/\($0.1)" }, rows.count > 3 ? shown.last : nil)
            }
            let first = try await page(after: nil)
            #expect(
                first.uris.map { $0.hasSuffix("/q1") || $0.hasSuffix("/q2") || $0.hasSuffix("/q3") }
                    == [true, true, true]
            )
            let rest = try await page(after: first.next)
            #expect(rest.uris.count == 1 && rest.next == nil)

            func write(_ content: JSONValue, ifVersion: Int64?) async throws -> CallAnswer {
                let call = CallStore.Write(
                    identity: identity(tenant, tool: "write_resource"),
                    uri: try ResourceURI(parsing: "tenant://\(tenant)/notes/n1"),
                    content: content,
                    ifVersion: ifVersion,
                    expectVersion: nil
                )
                return try #require(try await calls.write([call], tenant: tenant, until: deadline).first)
            }
            #expect(try await write(["a": 1], ifVersion: 0).detail["version"] == 1)
            #expect(try await write(["a": 2], ifVersion: 0).outcome == .conflict)
            #expect(try await write(["a": 2], ifVersion: 1).detail["version"] == 2)
            #expect(try await write(["a": 3], ifVersion: nil).detail["version"] == 3)
        }
    }
}

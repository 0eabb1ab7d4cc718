import PostgresNIO
import RampartCore
import RampartStore
import Testing

@Suite(.enabled(if: TestDatabase.isConfigured))
struct RowLevelSecurityTests {
    @Test func aBareCountSeesOnlyTheTenantSetInTheTransaction() async throws {
        let a = try await TestDatabase.newTenant("rls-a", documents: 3)
        let b = try await TestDatabase.newTenant("rls-b", documents: 2)

        try await TestDatabase.asApp { connection in
            let countA = try await TestDatabase.asTenant(a, on: connection) { conn in
                try await TestDatabase.count("SELECT count(*) FROM rampart.documents", on: conn)
            }
            #expect(countA == 3)
            let countB = try await TestDatabase.asTenant(b, on: connection) { conn in
                try await TestDatabase.count("SELECT count(*) FROM rampart.documents", on: conn)
            }
            #expect(countB == 2)
            // The setting was transaction-local: the next statement on the same connection sees nothing.
            #expect(try await TestDatabase.count("SELECT count(*) FROM rampart.documents", on: connection) == 0)
        }
    }

    @Test func withNoTenantSetEveryTenantTableIsEmpty() async throws {
        _ = try await TestDatabase.newTenant("rls-none", documents: 1)
        try await TestDatabase.asApp { connection in
            for table in ["tenants", "tenant_scopes", "tenant_limits", "documents", "audit_events"] {
                let rows = try await TestDatabase.count(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM rampart.\(table)"),
                    on: connection
                )
                #expect(rows == 0, "rampart.\(table) showed \(rows) rows with no tenant set")
            }
        }
    }

    @Test func aTenantCannotWriteAnotherTenantsRows() async throws {
        let a = try await TestDatabase.newTenant("rls-w-a", documents: 0)
        let b = try await TestDatabase.newTenant("rls-w-b", documents: 1)
        try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(a, on: connection) { conn in
                let insert = await TestDatabase.sqlState(
                    of: """
                        INSERT INTO rampart.documents (tenant_id, collection, id, body)
                        VALUES (\(b.rawValue), 'notes', 'planted', '{}')
                        """,
                    on: conn
                )
                #expect(insert == "42501")
            }
            let changed = try await TestDatabase.asTenant(a, on: connection) { conn in
                try await TestDatabase.count(
                    """
                    WITH u AS (UPDATE rampart.documents SET body = '{"x": 1}' WHERE tenant_id = \(b.rawValue) RETURNING 1)
                    SELECT count(*) FROM u
                    """,
                    on: conn
                )
            }
            #expect(changed == 0)
        }
    }
}

import PostgresNIO
import RampartCore
import RampartStore
import Testing

/// `rampart.sweep_rate_cells` (sql/012): only cells whose arrival time has passed go, so no
/// decision changes; a cell a call holds locked is skipped, not waited for.
@Suite(.enabled(if: TestDatabase.isConfigured), .serialized) struct RateCellSweepTests {
    func admit(_ tenant: TenantID, _ key: String, perMinute: Int) async throws -> RateRefusal? {
        try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(tenant, on: connection) {
                try await LimitFunctions.admit(
                    [RateCell(limit: "resource", key: key, perMinute: perMinute)],
                    tenant: tenant,
                    on: $0
                )
            }
        }
    }

    func exists(_ tenant: TenantID, _ key: String) async throws -> Bool {
        try await TestDatabase.asSuperuser { connection in
            try await TestDatabase.count(
                "SELECT count(*)::int FROM rampart.rate_limit_cells WHERE tenant_id = \(tenant.rawValue) AND cell = \(key)",
                on: connection
            ) == 1
        }
    }

    func sweep() async throws {
        try await TestDatabase.asApp { connection in
            try await TestDatabase.run("SELECT rampart.sweep_rate_cells(100000)", on: connection)
        }
    }

    func plantIdleCell(_ tenant: TenantID, _ key: String) async throws {
        try await TestDatabase.asSuperuser { connection in
            try await TestDatabase.run(
                """
                INSERT INTO rampart.rate_limit_cells (tenant_id, cell, tat)
                VALUES (\(tenant.rawValue), \(key), now() - interval '1 minute')
                """,
                on: connection
            )
        }
    }

    @Test func aCellStillDecidingIsKeptAndItsRefusalStands() async throws {
        let tenant = try await TestDatabase.newTenant("sw", documents: 0)
        #expect(try await admit(tenant, "resource:once", perMinute: 1) == nil)
        try await plantIdleCell(tenant, "resource:idle")
        try await sweep()
        #expect(try await exists(tenant, "resource:once"))
        #expect(try await !exists(tenant, "resource:idle"))
        #expect(try await admit(tenant, "resource:once", perMinute: 1)?.limit == "resource")
    }

    @Test func aCellIsSweptOnceItsArrivalTimeHasPassed() async throws {
        let tenant = try await TestDatabase.newTenant("sw", documents: 0)
        #expect(try await admit(tenant, "resource:fast", perMinute: 600) == nil)  // 100 ms a call
        try await Task.sleep(for: .milliseconds(250))
        try await sweep()
        #expect(try await !exists(tenant, "resource:fast"))
        #expect(try await admit(tenant, "resource:fast", perMinute: 600) == nil)
    }

    @Test func aLockedCellIsSkippedNotWaitedFor() async throws {
        let tenant = try await TestDatabase.newTenant("sw", documents: 0)
        try await plantIdleCell(tenant, "resource:held")
        try await TestDatabase.asSuperuser { holder in
            _ = try await holder.query("BEGIN", logger: TestDatabase.logger).collect()
            try await TestDatabase.run(
                """
                SELECT 1 FROM rampart.rate_limit_cells
                WHERE tenant_id = \(tenant.rawValue) AND cell = 'resource:held' FOR UPDATE
                """,
                on: holder
            )
            try await sweep()
            _ = try await holder.query("COMMIT", logger: TestDatabase.logger).collect()
        }
        #expect(try await exists(tenant, "resource:held"))
        try await sweep()
        #expect(try await !exists(tenant, "resource:held"))
    }
}

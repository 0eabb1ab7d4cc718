import Foundation
import PostgresNIO
import RampartCore
import RampartStore
import Synchronization
import Testing

/// The budget debit and the GCRA statement under concurrent sessions, in the interleavings that
/// matter (the spirit of PostgreSQL's isolation tests): the second session blocks on the first's
/// row lock, then re-checks against what the first did — committed or rolled back.
@Suite(.enabled(if: TestDatabase.isConfigured), .serialized) struct LimitsConcurrencyTests {
    enum Ending { case commit, rollback }

    /// Runs `first` in an open transaction on one connection, starts `second` on another, checks
    /// that it waits, ends the first transaction, and returns both results.
    func interleave<A: Sendable, B: Sendable>(
        _ tenant: TenantID,
        first: @escaping @Sendable (PostgresConnection) async throws -> A,
        second: @escaping @Sendable (PostgresConnection) async throws -> B,
        ending: Ending,
        expectWait: Bool = true
    ) async throws -> (A, B) {
        try await TestDatabase.asApp { one in
            try await TestDatabase.asApp { two in
                _ = try await one.query("BEGIN", logger: TestDatabase.logger).collect()
                _ = try await one.query(
                    "SELECT set_config('rampart.tenant_id', \(tenant.rawValue), true)",
                    logger: TestDatabase.logger
                )
                .collect()
                let firstResult = try await first(one)
                let finished = Atomic<Bool>(false)
                let secondTask = Task {
                    defer { finished.store(true, ordering: .sequentiallyConsistent) }
                    return try await TestDatabase.asTenant(tenant, on: two) { try await second($0) }
                }
                try await Task.sleep(for: .milliseconds(300))
                #expect(finished.load(ordering: .sequentiallyConsistent) == !expectWait)
                _ = try await one.query(ending == .commit ? "COMMIT" : "ROLLBACK", logger: TestDatabase.logger)
                    .collect()
                return (firstResult, try await secondTask.value)
            }
        }
    }

    /// A `write_resource` charge: 2 units by default.
    func debit(_ tenant: TenantID) -> @Sendable (PostgresConnection) async throws -> Bool {
        { connection in
            let cost = try await LimitFunctions.charge(
                "write_resource",
                tenant: tenant,
                issuer: "https://issuer.example",
                subject: "alice",
                on: connection
            )
            return cost == 2
        }
    }

    func tenant(budget: Int64) async throws -> TenantID {
        let tenant = try await TestDatabase.newTenant("lc", documents: 0)
        try await TestDatabase.asAdmin { connection in
            _ = try await ProvisioningStore(connection: connection, logger: TestDatabase.logger)
                .setBudget(tenant, daily: budget, user: nil)
        }
        return tenant
    }

    @Test(arguments: [
        (Ending.commit, Int64(3), false), (Ending.rollback, Int64(3), true), (Ending.commit, Int64(4), true),
    ])
    func aDebitWaitsThenRechecksTheBudget(ending: Ending, budget: Int64, secondPays: Bool) async throws {
        let tenant = try await tenant(budget: budget)
        let (first, second) = try await interleave(
            tenant,
            first: debit(tenant),
            second: debit(tenant),
            ending: ending
        )
        #expect(first && second == secondPays)
        let spent = try await TestDatabase.asAdmin { connection in
            try await ProvisioningStore(connection: connection, logger: TestDatabase.logger).showBudget(
                tenant,
                user: nil
            ).spent
        }
        #expect(spent == (ending == .commit ? 2 : 0) + (secondPays ? 2 : 0))
    }

    func admit(_ tenant: TenantID, _ cells: [RateCell]) -> @Sendable (PostgresConnection) async throws -> RateRefusal? {
        { connection in
            try await LimitFunctions.admit(cells, tenant: tenant, on: connection)
        }
    }

    @Test(arguments: [Ending.commit, Ending.rollback])
    func aRateCheckWaitsThenSeesTheFirstCall(ending: Ending) async throws {
        let tenant = try await TestDatabase.newTenant("lc", documents: 0)
        let cell = [RateCell(limit: "tenant", key: "tenant", perMinute: 1)]
        let (first, second) = try await interleave(
            tenant,
            first: admit(tenant, cell),
            second: admit(tenant, cell),
            ending: ending
        )
        #expect(first == nil)
        if ending == .commit {
            #expect(second?.limit == "tenant")
            #expect((55_000...60_000).contains(second?.retryAfterMs ?? 0))
        } else {
            #expect(second == nil)
        }
    }

    @Test func aRefusalChargesNoCell() async throws {
        let tenant = try await TestDatabase.newTenant("lc", documents: 0)
        let user = RateCell(limit: "user", key: "user:a", perMinute: 5)
        let resource = RateCell(limit: "resource", key: "resource:x", perMinute: 1)
        func tat(_ key: String) async throws -> String {
            try await TestDatabase.asApp { connection in
                try await TestDatabase.asTenant(tenant, on: connection) { connection in
                    for try await value in try await connection.query(
                        "SELECT tat::text FROM rampart.rate_limit_cells WHERE tenant_id = \(tenant.rawValue) AND cell = \(key)",
                        logger: TestDatabase.logger
                    ).decode(String.self) { return value }
                    return "none"
                }
            }
        }
        let call = admit(tenant, [user, resource])
        #expect(try await TestDatabase.asApp { try await TestDatabase.asTenant(tenant, on: $0, call) } == nil)
        let before = try await tat("user:a")
        let refused = try await TestDatabase.asApp { try await TestDatabase.asTenant(tenant, on: $0, call) }
        #expect(refused?.limit == "resource")
        #expect(try await tat("user:a") == before)
    }

    @Test func cellsAreLockedInKeyOrderSoOppositeOrdersNeverDeadlock() async throws {
        let tenant = try await TestDatabase.newTenant("lc", documents: 0)
        let ab = [
            RateCell(limit: "user", key: "a", perMinute: 100), RateCell(limit: "resource", key: "b", perMinute: 100),
        ]
        let (first, second) = try await interleave(
            tenant,
            first: admit(tenant, ab),
            second: admit(tenant, ab.reversed()),
            ending: .commit
        )
        #expect(first == nil && second == nil)
    }

    @Test func differentUsersDoNotWaitForEachOther() async throws {
        let tenant = try await TestDatabase.newTenant("lc", documents: 0)
        let (first, second) = try await interleave(
            tenant,
            first: admit(tenant, [RateCell(limit: "user", key: "user:a", perMinute: 1)]),
            second: admit(tenant, [RateCell(limit: "user", key: "user:b", perMinute: 1)]),
            ending: .commit,
            expectWait: false
        )
        #expect(first == nil && second == nil)
    }
}

import Foundation
import RampartCore
import RampartStore
import Testing

/// A call's charge is all or nothing: both budgets pay or neither does, and a write that does not
/// happen costs nothing.
@Suite(.enabled(if: TestDatabase.isConfigured)) struct CallChargeTests {
    var deadline: ContinuousClock.Instant { .now + .seconds(10) }

    func spent(_ tenant: TenantID, user: String? = nil) async throws -> Int64 {
        try await TestDatabase.asAdmin { connection in
            try await ProvisioningStore(connection: connection, logger: TestDatabase.logger)
                .showBudget(tenant, user: user, issuer: user.map { _ in "https://issuer.example" }).spent
        }
    }

    func setBudget(_ tenant: TenantID, daily: Int64, user: String? = nil) async throws {
        try await TestDatabase.asAdmin { connection in
            _ = try await ProvisioningStore(connection: connection, logger: TestDatabase.logger)
                .setBudget(tenant, daily: daily, user: user)
        }
    }

    @Test func aUserBudgetThatRefusesGivesTheTenantsDebitBack() async throws {
        let tenant = try await TestDatabase.newTenant("cc", documents: 1)
        try await setBudget(tenant, daily: 100)
        try await setBudget(tenant, daily: 1, user: "carol")
        let uri = try ResourceURI(parsing: "tenant://\(tenant)/notes/n0")
        try await TestDatabase.withCalls { (calls: CallStore) async throws in
            func read() async throws -> CallAnswer.Outcome? {
                let call = CallStore.Read(
                    identity: TestDatabase.caller(tenant, tool: "read_resource", subject: "carol"),
                    uri: uri,
                    rules: nil
                )
                return try await calls.read([call], tenant: tenant, until: deadline).first?.outcome
            }
            #expect(try await read() == .ok)
            #expect(try await read() == .budget)
        }
        #expect(try await spent(tenant) == 1)
        #expect(try await spent(tenant, user: "carol") == 1)
    }

    @Test func aWriteThatDoesNotHappenCostsNothing() async throws {
        let tenant = try await TestDatabase.newTenant("cc", documents: 1)
        let uri = try ResourceURI(parsing: "tenant://\(tenant)/notes/n0")
        try await TestDatabase.withCalls { (calls: CallStore) async throws in
            func write(ifVersion: Int64?) async throws -> CallAnswer.Outcome? {
                let call = CallStore.Write(
                    identity: TestDatabase.caller(tenant, tool: "write_resource"),
                    uri: uri,
                    content: ["text": "changed"],
                    ifVersion: ifVersion,
                    expectVersion: nil
                )
                return try await calls.write([call], tenant: tenant, until: deadline).first?.outcome
            }
            #expect(try await write(ifVersion: 7) == .conflict)
            #expect(try await spent(tenant) == 0)
            #expect(try await write(ifVersion: 1) == .ok)
            #expect(try await spent(tenant) == 2)

            // A budget that cannot pay: nothing is written.
            try await setBudget(tenant, daily: 3)
            #expect(try await write(ifVersion: nil) == .budget)
            #expect(try await spent(tenant) == 2)
        }
        let stored = try await TestDatabase.asAdmin { connection in
            try await ProvisioningStore(connection: connection, logger: TestDatabase.logger).getDocument(uri)
        }
        #expect(stored.version == 2)
    }
}

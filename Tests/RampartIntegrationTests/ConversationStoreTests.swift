import Foundation
import PostgresNIO
import RampartCore
import RampartStore
import Testing

/// Sessions and handles are bound to the principal that opened them (D2, D3).
@Suite(.enabled(if: TestDatabase.isConfigured)) struct ConversationStoreTests {
    func principal(_ tenant: TenantID, _ subject: String, issuer: String = "https://issuer.example") -> Principal {
        Principal(
            tenant: tenant,
            issuer: issuer,
            subject: subject,
            scopes: [.read],
            tokenKey: "jti:x",
            conversationScope: nil,
            expiresAt: 0
        )
    }

    func withStore<R: Sendable>(_ principal: Principal, _ body: (ConversationStore) async throws -> R) async throws -> R
    {
        try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(principal.tenant, on: connection) { connection in
                try await body(
                    ConversationStore(connection: connection, principal: principal, logger: TestDatabase.logger)
                )
            }
        }
    }

    @Test func onlyItsPrincipalCanUseOrEndIt() async throws {
        let tenant = try await TestDatabase.newTenant("cs", documents: 0)
        let other = try await TestDatabase.newTenant("cs", documents: 0)
        let alice = principal(tenant, "alice")
        let id = "session-\(UInt64.random(in: 0...UInt64.max))"
        let created = try await withStore(alice) {
            try await $0.create(.session, id: id, scope: ["tenant://\(tenant)/*"])
        }
        #expect(created.expiresAt > .now)

        #expect(try await withStore(alice) { try await $0.touch(.session, id: id) }?.scope == ["tenant://\(tenant)/*"])
        #expect(try await withStore(alice) { try await $0.touch(.handle, id: id) } == nil)
        for stranger in [
            principal(tenant, "mallory"), principal(tenant, "alice", issuer: "https://other.example"),
            principal(other, "alice"),
        ] {
            #expect(try await withStore(stranger) { try await $0.touch(.session, id: id) } == nil)
            #expect(try await withStore(stranger) { try await $0.end(.session, id: id) } == false)
        }
        #expect(try await withStore(alice) { try await $0.end(.session, id: id) })
        #expect(try await withStore(alice) { try await $0.touch(.session, id: id) } == nil)
        #expect(try await withStore(alice) { try await $0.end(.session, id: id) } == false)
    }
}

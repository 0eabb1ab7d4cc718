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
            expiresAt: Int64(Date.now.timeIntervalSince1970) + 600
        )
    }

    func identity(_ principal: Principal, _ conversation: ConversationKey) -> CallIdentity {
        CallIdentity(
            requestID: "r-\(UUID().uuidString.prefix(8))",
            principal: principal,
            method: "tools/call",
            tool: "read_resource",
            operation: "read_resource",
            conversation: conversation,
            claimedScope: nil
        )
    }

    @Test func onlyItsPrincipalCanUseOrEndIt() async throws {
        let tenant = try await TestDatabase.newTenant("cs", documents: 1)
        let other = try await TestDatabase.newTenant("cs", documents: 0)
        let alice = principal(tenant, "alice")
        let id = "session-\(UInt64.random(in: 0...UInt64.max))"
        let session = ConversationKey(.session, id: id)
        let deadline = ContinuousClock.now + .seconds(10)
        try await TestDatabase.withCalls { calls in
            let conversations = ConversationStore(calls: calls)
            func resume(_ who: Principal) async throws -> Bool {
                try await conversations.resume(identity(who, session), tenant: who.tenant, until: deadline)
            }
            func end(_ who: Principal) async throws -> Bool {
                try await conversations.end(identity(who, session), tenant: who.tenant, until: deadline)
            }
            let opening = ConversationStore.Opening(
                identity: identity(alice, session),
                kind: .session,
                id: id,
                parent: nil,
                scope: ["tenant://\(tenant)/*"],
                purpose: nil,
                protocolVersion: "2025-11-25",
                rateLimited: false
            )
            let (outcome, detail) = try await conversations.open(opening, tenant: tenant, until: deadline)
            #expect(outcome == "ok")
            #expect(detail["scope"] == [.string("tenant://\(tenant)/*")])
            let expires = try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(
                try #require(detail["expires_at"]?.stringValue)
            )
            #expect(expires > .now)

            #expect(try await resume(alice))
            // The session's id names no handle: a call naming it as one finds no conversation.
            let read = CallStore.Read(
                identity: identity(alice, ConversationKey(.handle, id: id)),
                uri: try ResourceURI(parsing: "tenant://\(tenant)/notes/n0"),
                rules: nil
            )
            #expect(
                try await calls.read([read], tenant: tenant, until: deadline).first?.outcome == .conversationNotFound
            )
            for stranger in [
                principal(tenant, "mallory"), principal(tenant, "alice", issuer: "https://other.example"),
                principal(other, "alice"),
            ] {
                #expect(try await resume(stranger) == false)
                #expect(try await end(stranger) == false)
            }
            #expect(try await end(alice))
            #expect(try await resume(alice) == false)
            #expect(try await end(alice) == false)
        }
    }
}

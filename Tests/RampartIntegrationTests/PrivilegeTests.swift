import PostgresNIO
import RampartCore
import RampartStore
import Testing

@Suite(.enabled(if: TestDatabase.isConfigured))
struct PrivilegeTests {
    static let auditTampering = [
        "UPDATE rampart.audit_events SET reason = 'forged'",
        "DELETE FROM rampart.audit_events",
        "TRUNCATE rampart.audit_events",
        "UPDATE rampart.audit_chain SET hash = prev_hash",
        "DELETE FROM rampart.audit_chain",
        "TRUNCATE rampart.audit_chain",
        "INSERT INTO rampart.audit_chain (seq, event_tenant, event_id, prev_hash, hash) VALUES (1e9, 'x', 1, '', '')",
        "DELETE FROM rampart.audit_pending",
        "TRUNCATE rampart.audit_pending",
        "SELECT * FROM rampart.audit_chain",
    ]

    @Test func theAppRoleMayOnlyAppendAudit() async throws {
        let tenant = try await TestDatabase.newTenant("priv", documents: 1)
        try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(tenant, on: connection) { conn in
                let appended = await TestDatabase.sqlState(
                    of: """
                        INSERT INTO rampart.audit_events (tenant_id, decision, layer, reason)
                        VALUES (\(tenant.rawValue), 'allow', 'execute', 'test')
                        """,
                    on: conn
                )
                #expect(appended == nil)
            }
            for statement in Self.auditTampering {
                let state = try await TestDatabase.asTenant(tenant, on: connection) { conn in
                    await TestDatabase.sqlState(of: PostgresQuery(unsafeSQL: statement), on: conn)
                }
                #expect(state == "42501", "\(statement) gave \(state ?? "success")")
            }
        }
    }

    @Test func neitherRoleCanForgeWhenWhoOrWhichEvent() async throws {
        let tenant = try await TestDatabase.newTenant("forge", documents: 0)
        let forgeries = [
            // A chosen (future) event id would make a later real insert fail.
            """
            INSERT INTO rampart.audit_events (tenant_id, event_id, decision, layer, reason)
            OVERRIDING SYSTEM VALUE VALUES ('\(tenant.rawValue)', 999999999, 'allow', 'execute', 'x')
            """,
            // A back-dated event, or one signed by another role.
            """
            INSERT INTO rampart.audit_events (tenant_id, at, decision, layer, reason)
            VALUES ('\(tenant.rawValue)', now() - interval '1 year', 'allow', 'execute', 'x')
            """,
            """
            INSERT INTO rampart.audit_events (tenant_id, actor_role, decision, layer, reason)
            VALUES ('\(tenant.rawValue)', 'rampart_owner', 'allow', 'execute', 'x')
            """,
            // An admin action no admin function performed.
            """
            INSERT INTO rampart.audit_events (tenant_id, decision, layer, reason)
            VALUES ('\(tenant.rawValue)', 'allow', 'admin', 'admin action')
            """,
        ]
        for asRole in [TestDatabase.asApp, TestDatabase.asAdmin] as [TestDatabase.Session] {
            try await asRole { connection in
                for forgery in forgeries {
                    let state = try await TestDatabase.asTenant(tenant, on: connection) { conn in
                        await TestDatabase.sqlState(of: PostgresQuery(unsafeSQL: forgery), on: conn)
                    }
                    #expect(state == "42501", "\(forgery) gave \(state ?? "success")")
                }
            }
        }
        // What the server may write is stamped by the database.
        let (role, recent) = try await TestDatabase.asApp { connection in
            try await TestDatabase.asTenant(tenant, on: connection) { conn in
                try await TestDatabase.run(
                    """
                    INSERT INTO rampart.audit_events (tenant_id, decision, layer, reason)
                    VALUES (\(tenant.rawValue), 'allow', 'execute', 'stamped')
                    """,
                    on: conn
                )
                for (role, recent) in try await conn.fetch(
                    """
                    SELECT actor_role, at > now() - interval '1 minute' FROM rampart.audit_events
                    WHERE tenant_id = \(tenant.rawValue) AND reason = 'stamped'
                    """,
                    logger: TestDatabase.logger
                ).decode((String, Bool).self) {
                    return (role, recent)
                }
                return ("", false)
            }
        }
        #expect(role == "rampart_test_app" && recent)
    }

    @Test func theAdminRoleMayOnlyAppendAuditToo() async throws {
        try await TestDatabase.asAdmin { connection in
            for statement in Self.auditTampering {
                let state = await TestDatabase.sqlState(of: PostgresQuery(unsafeSQL: statement), on: connection)
                #expect(state == "42501", "\(statement) gave \(state ?? "success")")
            }
        }
    }

    @Test func theAppRoleCannotLowerTheWall() async throws {
        try await TestDatabase.asApp { connection in
            for statement in [
                "ALTER TABLE rampart.documents DISABLE ROW LEVEL SECURITY",
                "ALTER TABLE rampart.documents NO FORCE ROW LEVEL SECURITY",
                "DROP POLICY tenant_isolation ON rampart.documents",
                "SET ROLE rampart_owner",
                "SET ROLE rampart_admin",
                "SELECT rampart.create_tenant('sneaky')",
                "DELETE FROM rampart.documents",
            ] {
                let state = await TestDatabase.sqlState(of: PostgresQuery(unsafeSQL: statement), on: connection)
                #expect(state == "42501", "\(statement) gave \(state ?? "success")")
            }
        }
    }
}

import Foundation
import Logging
import PostgresNIO
import RampartCore

/// The start-up self-check: the server's role must be one that row-level security binds.
///
/// It refuses when the role is a superuser, has BYPASSRLS, can act as `rampart_owner`, is a
/// member of `rampart_admin` (directly or through another role), is not a member of
/// `rampart_app`, or owns a table of the schema; and when any table of the `rampart` schema but
/// the global ones (`globalTables`) is not a tenant table behind the wall: a `tenant_id` column,
/// RLS enabled and forced, the `tenant_isolation` policy exactly as the migrations wrote it, and
/// no other permissive policy that applies to the role (permissive policies add rows).
public enum DatabaseWallCheck {
    /// Tables that hold no tenant's data.
    public static let globalTables: Set<String> = [
        "schema_migrations", "default_costs", "audit_pending", "audit_chain",
    ]

    /// The tenant policy's condition as PostgreSQL prints it, with spacing, parentheses, casts and
    /// quotes taken out (`normalized`), so only a different condition differs.
    static let tenantCondition = "tenant_id=selectnullifcurrent_setting'rampart.tenant_id',true,''asnullif"

    static func normalized(_ expression: String) -> String {
        expression.lowercased().replacingOccurrences(of: "::text", with: "")
            .filter { !" \t\n()\"".contains($0) }
    }

    /// Every problem found; an empty list means the wall stands.
    public static func problems(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        do {
            return try await roleProblems(on: connection, logger: logger)
                + tableProblems(on: connection, logger: logger)
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    private static func roleProblems(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var problems: [String] = []
        let rows = try await connection.fetch(
            """
            SELECT current_user::text, r.rolsuper, r.rolbypassrls,
                   to_regrole('rampart_owner') IS NOT NULL AND pg_has_role(current_user, 'rampart_owner', 'MEMBER'),
                   to_regrole('rampart_admin') IS NOT NULL AND pg_has_role(current_user, 'rampart_admin', 'MEMBER'),
                   to_regrole('rampart_app') IS NOT NULL AND pg_has_role(current_user, 'rampart_app', 'MEMBER')
            FROM pg_roles r WHERE r.rolname = current_user
            """,
            logger: logger
        )
        for (role, isSuper, bypassesRLS, actsAsOwner, isAdmin, isApp) in try rows.decode(
            (String, Bool, Bool, Bool, Bool, Bool).self
        ) {
            if isSuper { problems.append("the database role \(role) is a superuser") }
            if bypassesRLS { problems.append("the database role \(role) has BYPASSRLS") }
            if actsAsOwner { problems.append("the database role \(role) can act as rampart_owner") }
            if isAdmin { problems.append("the database role \(role) is a member of rampart_admin") }
            if !isApp { problems.append("the database role \(role) is not a member of rampart_app") }
        }
        return problems
    }

    private static func tableProblems(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var problems: [String] = []
        let rows = try await connection.fetch(
            """
            SELECT c.relname::text,
                   EXISTS (SELECT 1 FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped),
                   c.relrowsecurity, c.relforcerowsecurity, pg_has_role(current_user, c.relowner, 'USAGE'),
                   (SELECT array_agg(coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' | '
                                     || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''))
                    FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation'),
                   array(SELECT p.polname::text FROM pg_policy p
                         WHERE p.polrelid = c.oid AND p.polpermissive AND p.polname <> 'tenant_isolation'
                           AND (0::oid = ANY (p.polroles)
                                OR EXISTS (SELECT 1 FROM unnest(p.polroles) AS r(oid)
                                           WHERE pg_has_role(current_user, r.oid, 'MEMBER')))
                         ORDER BY 1)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'rampart' AND c.relkind IN ('r', 'p') AND NOT c.relname = ANY (\(Array(globalTables)))
            ORDER BY c.relname
            """,
            logger: logger
        )
        let expected = "\(tenantCondition)|\(tenantCondition)"
        var tableCount = 0
        for (table, hasTenant, enabled, forced, owned, policy, widening) in try rows.decode(
            (String, Bool, Bool, Bool, Bool, [String]?, [String]).self
        ) {
            tableCount += 1
            let name = "rampart.\(table)"
            guard hasTenant else {
                problems.append("table \(name) is neither a tenant table (no tenant_id column) nor a known global one")
                continue
            }
            if owned { problems.append("the database role owns tenant table \(name)") }
            if !enabled { problems.append("row-level security is disabled on tenant table \(name)") }
            if !forced { problems.append("row-level security is not forced on tenant table \(name)") }
            if let policy = policy?.first {
                if normalized(policy) != expected {
                    problems.append("the tenant_isolation policy of \(name) is not the one the migrations wrote")
                }
            } else {
                problems.append("tenant table \(name) has no tenant_isolation policy")
            }
            for extra in widening {
                problems.append("tenant table \(name) has permissive policy \(extra), which applies to this role")
            }
        }
        if tableCount == 0 {
            problems.append("no tenant tables found: run `rampart db migrate` first")
        }
        return problems
    }
}

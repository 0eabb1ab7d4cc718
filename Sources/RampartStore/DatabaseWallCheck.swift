import Logging
import PostgresNIO
import RampartCore

/// The start-up self-check: the server's role must be one that row-level security binds.
///
/// It refuses when the role is a superuser, has BYPASSRLS, can act as `rampart_owner`, owns a
/// tenant table, is not a member of `rampart_app`, or when any tenant table lacks enabled and
/// forced RLS with the tenant policy.
public enum DatabaseWallCheck {
    /// Every problem found; an empty list means the wall stands.
    public static func problems(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        do {
            var problems: [String] = []
            let roleRows = try await connection.fetch(
                """
                SELECT current_user::text, r.rolsuper, r.rolbypassrls,
                       to_regrole('rampart_owner') IS NOT NULL
                           AND pg_has_role(current_user, 'rampart_owner', 'MEMBER'),
                       to_regrole('rampart_app') IS NOT NULL
                           AND pg_has_role(current_user, 'rampart_app', 'MEMBER')
                FROM pg_roles r WHERE r.rolname = current_user
                """,
                logger: logger
            )
            for (role, isSuper, bypassesRLS, actsAsOwner, isApp) in try roleRows.decode(
                (String, Bool, Bool, Bool, Bool).self
            ) {
                if isSuper { problems.append("the database role \(role) is a superuser") }
                if bypassesRLS { problems.append("the database role \(role) has BYPASSRLS") }
                if actsAsOwner { problems.append("the database role \(role) can act as rampart_owner") }
                if !isApp { problems.append("the database role \(role) is not a member of rampart_app") }
            }

            let tableRows = try await connection.fetch(
                """
                SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                       pg_has_role(current_user, c.relowner, 'USAGE'),
                       EXISTS (SELECT 1 FROM pg_policy p
                               WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation'
                                 AND pg_get_expr(p.polqual, p.polrelid) LIKE '%rampart.tenant_id%')
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'rampart' AND c.relkind IN ('r', 'p')
                  AND EXISTS (SELECT 1 FROM pg_attribute a
                              WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
                ORDER BY c.relname
                """,
                logger: logger
            )
            var tableCount = 0
            for (table, enabled, forced, owned, hasPolicy) in try tableRows.decode(
                (String, Bool, Bool, Bool, Bool).self
            ) {
                tableCount += 1
                if owned { problems.append("the database role owns tenant table rampart.\(table)") }
                if !enabled { problems.append("row-level security is disabled on tenant table rampart.\(table)") }
                if !forced { problems.append("row-level security is not forced on tenant table rampart.\(table)") }
                if !hasPolicy { problems.append("tenant table rampart.\(table) has no tenant_isolation policy") }
            }
            if tableCount == 0 {
                problems.append("no tenant tables found: run `rampart db migrate` first")
            }
            return problems
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}

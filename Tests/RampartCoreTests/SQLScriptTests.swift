import RampartStore
import Testing

@Suite struct SQLScriptTests {
    @Test func splitsOnTopLevelSemicolonsOnly() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE t (x text DEFAULT 'a;b');
            /* block; comment */ SELECT ";" AS "odd;name";
            DO $$ BEGIN PERFORM 1; END $$;
            CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
            SELECT 'it''s; fine'
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 5)
        #expect(statements[0].hasSuffix("DEFAULT 'a;b')"))
        #expect(statements[2] == "DO $$ BEGIN PERFORM 1; END $$")
        #expect(statements[3].hasSuffix("$body$ SELECT 1; $body$"))
        #expect(statements[4] == "SELECT 'it''s; fine'")
    }

    @Test func dropsCommentOnlyAndEmptyStatements() {
        #expect(SQLScript.statements("-- only a comment\n;;  \n") == [])
    }

    @Test func theBundledMigrationsSplit() throws {
        for migration in try MigrationCatalog.bundled() {
            #expect(SQLScript.statements(migration.sql).count >= 3, "\(migration.name)")
        }
    }
}

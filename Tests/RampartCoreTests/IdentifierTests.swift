import RampartCore
import Testing

@Suite struct IdentifierTests {
    @Test(arguments: ["acme", "a", "0", "acme-corp", "a1-b2", String(repeating: "a", count: 63)])
    func validTenantIDs(raw: String) throws {
        #expect(try TenantID(validating: raw).rawValue == raw)
    }

    @Test(arguments: [
        "", "ACME", "-acme", "acme_corp", "acme corp", "acmé", String(repeating: "a", count: 64), "a\u{0}b",
        "ａcme",
    ])
    func invalidTenantIDs(raw: String) {
        #expect(throws: RampartError.self) { try TenantID(validating: raw) }
    }

    @Test(arguments: ["sales", "hr", "q1_reports", "a0"])
    func validCollections(raw: String) throws {
        #expect(try CollectionName(validating: raw).rawValue == raw)
    }

    @Test(arguments: ["", "Sales", "1sales", "_x", "sales-2024", "a/b", String(repeating: "a", count: 64)])
    func invalidCollections(raw: String) {
        #expect(throws: RampartError.self) { try CollectionName(validating: raw) }
    }

    @Test(arguments: ["q1", "Q1", "a-b_c", String(repeating: "Z", count: 64)])
    func validDocumentIDs(raw: String) throws {
        #expect(try DocumentID(validating: raw).rawValue == raw)
    }

    @Test(arguments: ["", "a.b", "..", "a b", "a%2Fb", String(repeating: "x", count: 65), "x\u{0}"])
    func invalidDocumentIDs(raw: String) {
        #expect(throws: RampartError.self) { try DocumentID(validating: raw) }
    }

    @Test func errorMessagesNeverEchoControlCharactersOrHugeInput() throws {
        let error = try #require(throws: RampartError.self) {
            try DocumentID(validating: "a\u{7}" + String(repeating: "b", count: 10_000))
        }
        #expect(!error.message.contains("\u{7}"))
        #expect(error.message.count < 200)
    }
}

@Suite struct ResourceURITests {
    @Test func parsesAndPrintsTheCanonicalForm() throws {
        let uri = try ResourceURI(parsing: "tenant://acme/sales/q1")
        #expect(uri.tenant.rawValue == "acme")
        #expect(uri.collection.rawValue == "sales")
        #expect(uri.id.rawValue == "q1")
        #expect(uri.description == "tenant://acme/sales/q1")
    }

    @Test(arguments: [
        "tenant://acme/../globex/x", "tenant://ACME/sales/q1", "file:///etc/passwd", "tenant://acme/sales",
        "tenant://acme/sales/q1/extra", "tenant://acme/sales/q1/", "tenant://acme//q1", "tenant://acme/sales/q%31",
        "tenant://acme/sales/q1?x=1", "tenant://acme/sales/q1#f", "TENANT://acme/sales/q1", "tenant:/acme/sales/q1",
        "tenant://acme/sales/" + String(repeating: "a", count: 10_000), "tenant://acme/sales/a\u{0}b", "",
    ])
    func rejectsEverythingElse(raw: String) {
        #expect(throws: RampartError.self) { try ResourceURI(parsing: raw) }
    }
}

@Suite struct ScopeTests {
    @Test func parsesKnownScopesAndDeduplicates() throws {
        let scopes = try Scope.parseList(["resources:read", "pii:read", "resources:read"])
        #expect(scopes == [.read, .piiRead])
    }

    @Test func refusesUnknownScopes() {
        #expect(throws: RampartError.self) { try Scope.parseList(["resources:admin"]) }
        #expect(Scope(known: "resources:*") == nil)
    }
}

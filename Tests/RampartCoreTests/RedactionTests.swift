import RampartCore
import Testing

@Suite struct RedactionTests {
    let rules = [
        RedactionRule(collection: "hr", field: "ssn", action: .redact, unlessScope: .piiRead),
        RedactionRule(collection: "hr", field: "contact.email", action: .remove, unlessScope: nil),
        RedactionRule(collection: "hr", field: "card", action: .mask, unlessScope: nil),
        RedactionRule(collection: "sales", field: "name", action: .remove, unlessScope: nil),
    ]
    let document: JSONValue = [
        "name": "Alice", "ssn": "123-45-6789", "card": "4111111111111111",
        "contact": ["email": "a@x.io", "ssn": "999-99-9999", "city": "Oslo"],
        "history": [["ssn": "111-11-1111"], "text"],
        "email": "kept@x.io",
    ]

    @Test func keysAnywherePathsFromTheRoot() {
        let (shown, count) = Redactor(rules: rules, collection: "hr", scopes: [.read]).apply(document)
        #expect(count == 5)
        #expect(shown["ssn"] == "***REDACTED***")
        #expect(shown["contact"]?["ssn"] == "***REDACTED***")
        #expect(shown["contact"]?["email"] == nil && shown["contact"]?["city"] == "Oslo")
        #expect(shown["history"]?.arrayValue?.first?["ssn"] == "***REDACTED***")
        #expect(shown["card"] == "************1111")
        #expect(shown["email"] == "kept@x.io" && shown["name"] == "Alice")
    }

    @Test func theUnlessScopeShowsTheField() {
        let (shown, _) = Redactor(rules: rules, collection: "hr", scopes: [.read, .piiRead]).apply(document)
        #expect(shown["ssn"] == "123-45-6789")
        #expect(shown["contact"]?["email"] == nil)
    }

    @Test func queriesCannotTouchHiddenFields() throws {
        let redactor = Redactor(rules: rules, collection: "hr", scopes: [.read])
        for hidden in ["ssn", "contact.ssn", "contact", "contact.email", "history.ssn", "card"] {
            #expect(redactor.conceals(try FieldPath(validating: hidden)), "\(hidden)")
        }
        for visible in ["name", "email", "team"] {
            #expect(!redactor.conceals(try FieldPath(validating: visible)), "\(visible)")
        }
        #expect(redactor.comparesScalarsOnly)
    }

    @Test func masksKeepOnlyTheLastFour() {
        let (shown, _) = Redactor(rules: rules, collection: "hr", scopes: []).apply([
            "card": "1234", "x": ["card": 123_456],
        ])
        #expect(shown["card"] == "****")
        #expect(shown["x"]?["card"] == "**3456")
    }

    @Test func snippetsComeOnlyFromVisibleText() {
        let (shown, _) = Redactor(rules: rules, collection: "hr", scopes: []).apply(document)
        #expect(Snippet.make(from: shown, query: "123-45-6789") == nil)
        #expect(Snippet.make(from: shown, query: "oslo") == "**Oslo**")
    }

    @Test func detectionMasksWhatItConfirms() {
        var found: [PIIDetector.Kind: Int] = [:]
        let text = PIIDetector().scan(
            "call +47 912 34 567, card 4111-1111-1111-1111, not 4111-1111-1111-1112",
            found: &found
        )
        #expect(!text.contains("4111-1111-1111-1111") && text.contains("4111-1111-1111-1112"))
        #expect(found[.card] == 1 && found[.phone] == 1)
    }

    @Test func aWriteBackKeepsWhatTheCallerCouldNotSee() throws {
        let redactor = Redactor(rules: rules, collection: "hr", scopes: [.read])
        let (shown, _) = redactor.apply(document)
        guard case .object(var edited) = shown else { return #expect(Bool(false)) }
        edited["name"] = "Alice B."
        let (merged, preserved) = try #require(redactor.preserving(document, into: .object(edited)))
        #expect(preserved == 5)
        #expect(merged["name"] == "Alice B." && merged["ssn"] == "123-45-6789" && merged["card"] == "4111111111111111")
        #expect(merged["contact"]?["email"] == "a@x.io" && merged["contact"]?["ssn"] == "999-99-9999")
        #expect(merged["history"]?.arrayValue?.first?["ssn"] == "111-11-1111")
        // New hidden fields are the caller's to write; a document without rules is written as sent.
        let created = redactor.preserving(["name": "New"], into: ["name": "New", "ssn": "000-00-0000"])
        #expect(created?.value["ssn"] == "000-00-0000")
        #expect(
            Redactor(rules: [], collection: "hr", scopes: []).preserving(document, into: ["x": 1])?.value == ["x": 1]
        )
    }

    @Test func aWriteThatWouldDropHiddenFieldsIsRefused() {
        let redactor = Redactor(rules: rules, collection: "hr", scopes: [.read])
        for incoming: JSONValue in [
            ["name": "x", "contact": "gone"],  // an object holding hidden fields replaced
            ["name": "x"],  // dropped whole
            ["name": "x", "contact": ["city": "Oslo"], "history": []],  // array entries holding them dropped
        ] {
            #expect(redactor.preserving(document, into: incoming) == nil, "\(incoming.jsonText)")
        }
    }

    @Test func theSQLRulesNameKeysAndPaths() {
        let sql = Redactor(rules: rules, collection: "hr", scopes: [.read]).sqlRules
        #expect(sql["keys"] == ["ssn": "redact", "card": "mask"])
        #expect(sql["paths"] == ["contact.email": "remove"])
    }

    @Test func aSnippetSourceIsTheFirstVisibleMatchElseTheFirstString() {
        let doc: JSONValue = ["a": "nothing here", "b": "the renewal is due"]
        #expect(Snippet.source(in: doc, query: "renewals") == "the renewal is due")
        #expect(Snippet.source(in: doc, query: "zzz") == "nothing here")
        #expect(Snippet.window(of: "paid with card", query: "card") == "paid with **card**")
    }
}

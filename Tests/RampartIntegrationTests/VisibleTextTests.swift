import Foundation
import PostgresNIO
import RampartCore
import RampartStore
import Testing

/// Search matches what `rampart.visible` (SQL) shows; responses show what `Redactor` (Swift)
/// shows. The two must hide at least the same: over random documents and rules, no string the
/// Swift side hides may survive in the SQL side's view.
@Suite(.enabled(if: TestDatabase.isConfigured)) struct VisibleTextTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
    }

    static let keys = ["ssn", "name", "contact", "email", "notes", "items"]

    func document(depth: Int, _ generator: inout Generator) -> JSONValue {
        var members: [String: JSONValue] = [:]
        for key in Self.keys.shuffled(using: &generator).prefix(Int.random(in: 1...4, using: &generator)) {
            switch (depth, Int.random(in: 0..<4, using: &generator)) {
            case (0, _), (_, 0): members[key] = .string("v\(Int.random(in: 0..<100_000, using: &generator))")
            case (_, 1): members[key] = .int(Int64.random(in: 0..<100_000, using: &generator))
            case (_, 2): members[key] = .array([document(depth: depth - 1, &generator), "x"])
            default: members[key] = document(depth: depth - 1, &generator)
            }
        }
        return .object(members)
    }

    func strings(_ value: JSONValue) -> Set<String> {
        switch value {
        case .string(let text): [text]
        case .array(let elements): elements.reduce(into: []) { $0.formUnion(strings($1)) }
        case .object(let members): members.values.reduce(into: []) { $0.formUnion(strings($1)) }
        default: []
        }
    }

    @Test(arguments: 0..<8) func sqlHidesWhatSwiftHides(seed: UInt64) async throws {
        var generator = Generator(state: seed &+ 1)
        let actions = RedactionRule.Action.allCases
        let rules = [
            RedactionRule(
                collection: "c",
                field: "ssn",
                action: actions.randomElement(using: &generator)!,
                unlessScope: nil
            ),
            RedactionRule(collection: "c", field: "contact.email", action: .remove, unlessScope: nil),
            RedactionRule(collection: "c", field: "notes", action: .mask, unlessScope: nil),
        ]
        let redactor = Redactor(rules: rules, collection: "c", scopes: [])
        let documents = (0..<20).map { _ in document(depth: 3, &generator) }
        try await TestDatabase.asApp { connection in
            for document in documents {
                let swift = redactor.apply(document).value
                let rows = try await connection.fetch(
                    "SELECT rampart.visible(\(document.jsonText)::jsonb, \(redactor.sqlRules.jsonText)::jsonb)::text",
                    logger: TestDatabase.logger
                ).decode(String.self)
                let sql = try JSONParser.parse(try #require(rows.first))
                let hidden = strings(document).subtracting(strings(swift))
                #expect(strings(sql).intersection(hidden).isEmpty, "\(document.jsonText)")
                #expect(sql == swift, "\(document.jsonText)")
            }
        }
    }
}

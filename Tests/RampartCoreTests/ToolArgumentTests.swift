import RampartCore
import RampartMCP
import Testing

@Suite struct ToolArgumentTests {
    func failure(_ tool: ToolDefinition, _ arguments: [String: JSONValue]) -> String? {
        do {
            _ = try ToolCall.parse(tool, arguments: arguments)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func everyToolSchemaIsStrict() {
        for tool in ToolCatalog.all {
            #expect(SchemaValidator.precompile(tool.inputSchema), "\(tool.name) has an invalid pattern")
            #expect(tool.inputSchema["additionalProperties"] == false)
            #expect(Set(tool.required).isSubset(of: tool.argumentNames))
        }
    }

    @Test func unknownArgumentsAreNamed() {
        #expect(
            failure(ToolCatalog.readResource, ["uri": "tenant://a/b/c", "sql": "x"])
                == #"invalid argument "sql": unknown argument"#
        )
    }

    @Test func badValuesNameTheirArgument() {
        #expect(failure(ToolCatalog.readResource, [:]) == #"invalid argument "uri": required"#)
        #expect(
            failure(ToolCatalog.readResource, ["uri": "tenant://a/b/c/d"])?.hasPrefix(#"invalid argument "uri""#)
                == true
        )
        #expect(failure(ToolCatalog.listResources, ["limit": 0])?.hasPrefix(#"invalid argument "limit""#) == true)
        #expect(
            failure(ToolCatalog.searchResources, ["query": "\u{01}\u{02}"])?.hasPrefix(#"invalid argument "query""#)
                == true
        )
        #expect(
            failure(ToolCatalog.writeResource, ["uri": "tenant://a/b/c", "content": [1]])
                == #"invalid argument "content": expected an object"#
        )
        #expect(failure(ToolCatalog.readResource, ["uri": "tenant://a/b/c", "conversation": "short"]) != nil)
    }

    @Test func freeTextLosesControlAndInvisibleCharacters() throws {
        let (call, _) = try ToolCall.parse(
            ToolCatalog.searchResources,
            arguments: ["query": "re\u{202E}ven\u{0}ue\u{E0041}"]
        )
        guard case .search(let query, _, _) = call else {
            Issue.record("not a search")
            return
        }
        #expect(query == "revenue")
    }

    @Test func queriesAreValidated() throws {
        let valid: [String: JSONValue] = [
            "collection": "sales",
            "where": [["field": "contact.country", "op": "in", "value": ["de", "fr"]]],
            "group_by": ["region"],
            "aggregate": [["fn": "sum", "field": "amount"], ["fn": "count"]],
            "order_by": ["-sum(amount)"],
        ]
        let (call, _) = try ToolCall.parse(ToolCatalog.executeQuery, arguments: valid)
        guard case .query(let query) = call else {
            Issue.record("not a query")
            return
        }
        #expect(query.aggregates.map(\.label) == ["sum(amount)", "count"])
        #expect(query.orderBy.map(\.key) == ["sum(amount)"] && query.orderBy[0].descending)

        var badField = valid
        badField["group_by"] = ["region; drop"]
        #expect(failure(ToolCatalog.executeQuery, badField)?.hasPrefix(#"invalid argument "group_by"#) == true)
        var badOp = valid
        badOp["where"] = [["field": "a", "op": "like", "value": "x"]]
        #expect(failure(ToolCatalog.executeQuery, badOp)?.hasPrefix(#"invalid argument "where"#) == true)
        var badOrder = valid
        badOrder["order_by"] = ["amount"]
        #expect(failure(ToolCatalog.executeQuery, badOrder)?.hasPrefix(#"invalid argument "order_by"#) == true)
        var sumWithoutField = valid
        sumWithoutField["aggregate"] = [["fn": "sum"]]
        #expect(failure(ToolCatalog.executeQuery, sumWithoutField)?.hasPrefix(#"invalid argument "aggregate"#) == true)
    }

    @Test func visibleToolsFollowScopes() {
        #expect(
            ToolCatalog.visible(to: [.read]).map(\.name) == ["read_resource", "list_resources", "open_conversation"]
        )
        #expect(ToolCatalog.visible(to: []).map(\.name) == ["open_conversation"])
    }

    @Test func scopePatternsOnlyNarrow() throws {
        let tenantWide = try ScopePattern(parsing: "tenant://acme/*")
        let sales = try ScopePattern(parsing: "tenant://acme/sales/*")
        let one = try ScopePattern(parsing: "tenant://acme/sales/q1")
        #expect(sales.isWithin(tenantWide) && one.isWithin(sales) && !tenantWide.isWithin(sales))
        #expect(!(try ScopePattern(parsing: "tenant://other/*")).isWithin(tenantWide))
        #expect(one.matches(try ResourceURI(parsing: "tenant://acme/sales/q1")))
        #expect(!sales.matches(try ResourceURI(parsing: "tenant://acme/hr/q1")))
        for bad in [
            "tenant://acme/**", "tenant://acme/sa*/x", "tenant://acme", "tenant://acme/sales/*/x", "http://acme/*",
        ] {
            #expect(throws: RampartError.self) { try ScopePattern(parsing: bad) }
        }
    }
}

@Suite struct DocumentContentTests {
    @Test func controlCharactersLeaveDocumentsButTabsAndNewlinesStay() throws {
        let (call, _) = try ToolCall.parse(
            ToolCatalog.writeResource,
            arguments: [
                "uri": "tenant://a/b/c", "content": ["k\u{0}": "a\u{0}b\tc\nd\u{202E}e", "n": [["x": "\u{7}"]]],
            ]
        )
        guard case .write(_, let content, _) = call else {
            Issue.record("not a write")
            return
        }
        #expect(content == ["k": "ab\tc\nde", "n": [["x": ""]]])
    }
}

@Suite struct SchemaValidatorTests {
    func problem(_ tool: ToolDefinition, _ arguments: [String: JSONValue]) -> String? {
        do {
            try SchemaValidator.validate(.object(arguments), against: tool.inputSchema)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func thePublishedSchemaIsWhatIsEnforced() {
        #expect(problem(ToolCatalog.readResource, ["uri": "tenant://a/b/c"]) == nil)
        #expect(
            problem(ToolCatalog.readResource, ["uri": "tenant://A/b/c"])?.hasPrefix(
                #"invalid argument "uri": does not match"#
            ) == true
        )
        #expect(problem(ToolCatalog.listResources, ["limit": 101]) == #"invalid argument "limit": must be at most 100"#)
        #expect(problem(ToolCatalog.listResources, ["limit": "5"]) == #"invalid argument "limit": expected an integer"#)
        #expect(
            problem(ToolCatalog.searchResources, ["query": ""])
                == #"invalid argument "query": shorter than 1 characters"#
        )
        #expect(
            problem(ToolCatalog.writeResource, ["uri": "tenant://a/b/c"]) == #"invalid argument "content": required"#
        )
        #expect(problem(ToolCatalog.writeResource, ["uri": "tenant://a/b/c", "content": [:], "if_version": -1]) != nil)
        #expect(
            problem(
                ToolCatalog.executeQuery,
                ["collection": "s", "where": [["field": "a", "op": "like", "value": 1]]]
            )
                == #"invalid argument "where[0].op": must be one of eq, ne, lt, le, gt, ge, contains, in"#
        )
        #expect(problem(ToolCatalog.executeQuery, ["collection": "s", "where": [["field": "a", "op": "eq"]]]) != nil)
        #expect(
            problem(
                ToolCatalog.executeQuery,
                ["collection": "s", "order_by": ["-a", ["field": "b", "direction": "up"]]]
            ) != nil
        )
        #expect(problem(ToolCatalog.executeQuery, ["collection": "s", "order_by": ["-a", ["field": "b"]]]) == nil)
        #expect(
            problem(ToolCatalog.openConversation, ["scope": []])
                == #"invalid argument "scope": needs at least 1 entries"#
        )
    }
}

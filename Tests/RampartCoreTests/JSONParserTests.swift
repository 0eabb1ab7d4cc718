import RampartCore
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(
            #" {"a": [1, -2.5, true, false, null, "x\u00e9\n"], "b": {"c": 9007199254740993}} "#
        )
        #expect(
            value
                == [
                    "a": [.int(1), .double(-2.5), true, false, .null, "xé\n"],
                    "b": ["c": .int(9_007_199_254_740_993)],
                ]
        )
    }

    @Test func surrogatePairsBecomeOneScalar() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == "😀")
    }

    @Test(arguments: [
        #"{"a": 1, "a": 2}"#, #"{"a": 1,}"#, "[1 2]", #""\ud800""#, "\"a\u{01}b\"", "01", "1.", "-", "nul",
        #"{"a" 1}"#, "[1] x", "", "\"unterminated", #""\x""#, "1e999",
    ])
    func refusesWhatTwoReadersCouldDisagreeOn(text: String) {
        #expect(throws: RampartError.self) { try JSONParser.parse(text) }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: RampartError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func nestingIsCappedAtThirtyTwoLevels() throws {
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        _ = try JSONParser.parse(ok)
        #expect(throws: RampartError.self) { try JSONParser.parse(deep) }
        #expect(throws: RampartError.self) { try JSONParser.parse(String(repeating: "[", count: 100_000)) }
    }

    /// Found by FuzzJSONRPC: an integral floating-point number was written as an integer.
    @Test func integralDoublesStayDoubles() throws {
        let value = try JSONParser.parse("[-2.5e3, 3, 1e2]")
        #expect(value == [.double(-2500), .int(3), .double(100)])
        #expect(try JSONParser.parse(value.jsonText) == value)
    }

    @Test func writerRoundTripsWithSortedKeysAndEscapes() throws {
        let value: JSONValue = ["b": "tab\there \"q\" \u{01}", "a": [1, .double(2.5), .null], "c": ["z": true]]
        let text = value.jsonText
        #expect(text == #"{"a":[1,2.5,null],"b":"tab\there \"q\" \u0001","c":{"z":true}}"#)
        #expect(try JSONParser.parse(text) == value)
    }
}

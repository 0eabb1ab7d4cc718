import RampartCore

/// The token parsing path before any key is touched: compact serialization, strict base64url,
/// the header JSON. Re-encoding what was decoded must give the input back.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let jws = try? CompactJWS(parsing: text) else { return 0 }
    precondition(jws.signingInput.count < text.utf8.count, "the signing input is a strict prefix")
    _ = jws.header["alg"]?.stringValue
    _ = try? JSONParser.parse(jws.payload, maxDepth: 8)
    for part in text.split(separator: ".", omittingEmptySubsequences: false) {
        guard let decoded = Base64URL.decode(part) else { continue }
        precondition(Base64URL.encode(decoded) == String(part), "base64url decodes one way only")
    }
    return 0
}

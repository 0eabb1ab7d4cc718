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
        guard let decoded = CompactJWS.base64URL(part) else { continue }
        precondition(encode(decoded) == String(part), "base64url decodes one way only")
    }
    return 0
}

func encode(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var output = ""
    var index = 0
    while index < bytes.count {
        let chunk = bytes[index..<min(index + 3, bytes.count)]
        var value: UInt32 = 0
        for byte in chunk { value = value << 8 | UInt32(byte) }
        value <<= UInt32(8 * (3 - chunk.count))
        for position in 0..<(chunk.count + 1) {
            output.append(alphabet[Int((value >> UInt32(18 - 6 * position)) & 63)])
        }
        index += 3
    }
    return output
}

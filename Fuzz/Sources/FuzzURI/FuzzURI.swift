import RampartCore

/// The one URI parser, scope patterns and field paths: whatever parses prints back as the input
/// (so no two spellings name one resource), and never contains a dot segment or a control byte.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let uri = try? ResourceURI(parsing: text) {
        precondition(uri.description == text, "a URI prints back as itself")
        precondition(!text.contains("/../") && !text.contains("/./"), "no dot segments")
        precondition(text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "visible ASCII only")
    }
    if let pattern = try? ScopePattern(parsing: text) {
        precondition(pattern.description == text, "a pattern prints back as itself")
        if let uri = try? ResourceURI(parsing: text) { precondition(pattern.matches(uri)) }
    }
    if let path = try? FieldPath(validating: text) {
        precondition(path.description == text, "a field path prints back as itself")
    }
    return 0
}

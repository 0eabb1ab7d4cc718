import RampartMCP
import Testing

@Suite struct ProtocolEraTests {
    @Test func absentHeaderIsTheOldestHandshakeVersion() {
        #expect(ProtocolEra(header: nil) == .handshake(version: "2025-03-26"))
    }

    @Test(arguments: ["2025-03-26", "2025-06-18", "2025-11-25"])
    func handshakeVersions(version: String) {
        #expect(ProtocolEra(header: version) == .handshake(version: version))
    }

    @Test func statelessVersion() {
        #expect(ProtocolEra(header: "2026-07-28") == .stateless(version: "2026-07-28"))
    }

    @Test(arguments: ["2099-01-01", "", "2024-11-05", "2026-07-28 "])
    func everythingElseIsUnsupported(version: String) {
        #expect(ProtocolEra(header: version) == .unsupported(requested: version))
    }
}

import RampartCore
import Testing

@Suite struct AuditEventStorableTests {
    let hostile = AuditEvent(
        tenant: "-",
        requestID: "req-1",
        subject: "alice\u{0}",
        conversation: String(repeating: "c", count: 500),
        method: "tools/\u{0}call",
        tool: "read\u{0}",
        resource: "tenant://a/b/\u{0}" + String(repeating: "é", count: 600),
        decision: .deny,
        layer: .sanitize,
        reason: "bad \u{0} reason",
        details: ["k\u{0}ey": .array(["v\u{0}", 1, .object(["\u{0}": "x"])])]
    )

    @Test func noFieldKeepsANulAndEveryFieldFitsItsCap() {
        let event = hostile.storable()
        for text in [
            event.tenant, event.requestID, event.subject!, event.conversation!, event.method!, event.tool!,
            event.resource!, event.reason,
        ] {
            #expect(!text.utf8.contains(0), "\(text.prefix(20))")
        }
        #expect(!JSONValue.object(event.details).containsNUL)
        #expect(event.method == "tools/\u{FFFD}call")
        #expect(event.conversation!.utf8.count <= AuditEvent.Limits.identifier && event.conversation!.hasSuffix("…"))
        #expect(event.resource!.utf8.count <= AuditEvent.Limits.resource)
        #expect(event.resource!.unicodeScalars.allSatisfy { $0 != "\u{0}" })
    }

    @Test func cleanTextIsLeftAlone() {
        let event = AuditEvent(tenant: "acme", requestID: "r", decision: .allow, layer: .execute, reason: "read")
        #expect(event.storable() == event)
        #expect(StorableText.clean("héllo", maxBytes: 6) == "héllo")
    }

    @Test func cutsFallOnCharacterBoundaries() {
        let cut = StorableText.clean(String(repeating: "€", count: 10), maxBytes: 10)
        #expect(cut == "€€…")  // 3 + 3 bytes, then the 3-byte ellipsis
        #expect(String(validating: Array(cut.utf8), as: UTF8.self) != nil)
    }

    @Test func hugeDetailsAreReplacedByAMarker() {
        var event = hostile
        event.details = ["list": .array(Array(repeating: .string(String(repeating: "x", count: 1000)), count: 20))]
        #expect(event.storable().details == ["truncated": true])
    }

    @Test func aPlaceholderKeepsWhoAndWhatButNoRequestText() {
        let placeholder = hostile.placeholder()
        #expect(placeholder.requestID == "req-1" && placeholder.decision == .deny && placeholder.layer == .sanitize)
        #expect(placeholder.method == nil && placeholder.resource == nil && placeholder.subject == nil)
        #expect(placeholder.reason.contains("placeholder"))
    }
}

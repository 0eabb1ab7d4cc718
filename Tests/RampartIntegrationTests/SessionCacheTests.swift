import RampartCore
import Testing

@testable import RampartServer

/// A session confirmed by the database just before a revocation notice arrived must not be
/// remembered after it (it would answer `tools/list` for another second).
@Suite struct SessionCacheTests {
    let key = SessionCache.Key(
        tenant: try! TenantID(validating: "session-race"),
        issuer: "https://issuer.example",
        subject: "alice",
        session: "s" + String(repeating: "a", count: 31)
    )

    @Test func aNoticeDuringAConfirmationKeepsTheSessionOut() async {
        let cache = SessionCache()
        await cache.setListening(true)
        let before = await cache.generation
        await cache.forget(key.tenant)  // the revocation arrives while the database is asked
        await cache.remember(key, readAt: before)
        #expect(await cache.isLive(key) == false)
    }

    @Test func aConfirmationWithNoNoticeIsRemembered() async {
        let cache = SessionCache()
        await cache.setListening(true)
        await cache.remember(key, readAt: await cache.generation)
        #expect(await cache.isLive(key))
        await cache.forget(key.tenant)
        #expect(await cache.isLive(key) == false)
    }
}

import Foundation
import Logging
import PostgresNIO
import RampartCore
import Synchronization
import Testing

@testable import RampartServer
@testable import RampartStore

/// The tenant cache never keeps a row read before a change notice that came in while it was read.
@Suite struct AuthCacheTests {
    let tenant = try! TenantID(validating: "cache-race")
    let stale = TenantAccess(active: true, grantedScopes: [.read])

    @Test func aNoticeDuringALoadKeepsTheStaleRowOut() async {
        let state = AuthCache()
        let before = state.generation(of: tenant)
        state.forget(tenant)  // a suspension arrives while the row is being read
        state.remember(stale, for: tenant, readAt: before)
        #expect(state.tenantAccess(tenant) == nil)
        state.remember(stale, for: tenant, readAt: state.generation(of: tenant))
        #expect(state.tenantAccess(tenant) == .some(stale))
    }

    @Test func aNoticeForEveryTenantCountsToo() async {
        let state = AuthCache()
        let before = state.generation(of: tenant)
        state.forgetAllTenants()
        state.remember(stale, for: tenant, readAt: before)
        #expect(state.tenantAccess(tenant) == nil)
    }
}

/// Driver errors can quote request values (DETAIL, CONTEXT, the statement): above debug, only
/// the code and the SQLSTATE are logged.
@Suite(.enabled(if: TestDatabase.isConfigured)) struct ErrorLoggingTests {
    final class Records: LogHandler, @unchecked Sendable {
        // A test-only handler: written and read from one task.
        var entries: [(level: Logger.Level, text: String)] = []
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            entries.append((event.level, "\(event.message) \(event.metadata ?? [:])"))
        }
    }

    @Test func aDriverErrorIsLoggedWithoutItsValues() async throws {
        let records = Records()
        let logger = Logger(label: "test") { _ in records }
        let failure: (any Error)? = try await TestDatabase.asApp { connection in
            do {
                try await TestDatabase.run("SELECT 'secret-value-42'::integer", on: connection)
                return nil
            } catch {
                return error
            }
        }
        DatabaseErrors.log(try #require(failure), "request failed", logger: logger)
        let atError = records.entries.filter { $0.level >= .info }
        #expect(atError.count == 1 && atError[0].text.contains("22P02"))
        #expect(!atError.contains { $0.text.contains("secret-value-42") })
        #expect(records.entries.contains { $0.level == .debug && $0.text.contains("secret-value-42") })
    }
}

import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// The databases `ops/test` prepares: the app and admin login roles on a migrated database, and
/// a superuser. Tests isolate their data with fresh tenant ids.
enum TestDatabase {
    static let logger = Logger(label: "rampart.tests")

    static var isConfigured: Bool { ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] != nil }

    static func url(_ variable: String) throws -> DatabaseURL {
        guard let raw = ProcessInfo.processInfo.environment[variable] else {
            throw RampartError(.configuration, "\(variable) is not set: run the suite through ops/test")
        }
        return try DatabaseURL(parsing: raw, key: variable)
    }

    /// `asApp` or `asAdmin`, for tests that run the same steps as each role.
    typealias Session = @Sendable ((PostgresConnection) async throws -> Void) async throws -> Void

    static func asApp<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        try await url("TEST_DATABASE_URL").withConnection(logger: logger, body)
    }

    static func asAdmin<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        try await url("TEST_ADMIN_DATABASE_URL").withConnection(logger: logger, body)
    }

    static func asSuperuser<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        try await url("TEST_SUPERUSER_URL").withConnection(logger: logger, body)
    }

    /// Runs `body` with a pool on the server's role, as `rampart serve` has one.
    static func withPool(connections: Int = 2, _ body: (Database) async throws -> Void) async throws {
        let client = PostgresClient(
            configuration: try url("TEST_DATABASE_URL").clientConfiguration(maxConnections: connections),
            backgroundLogger: logger
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            try await body(Database(client: client))
            group.cancelAll()
        }
    }

    /// The server's call functions over a pool of its own, prepared as `rampart serve` runs them.
    static func withCalls(_ body: (CallStore) async throws -> Void) async throws {
        try await withPool { database in
            try await body(CallStore(database: database, prepared: true, logger: logger))
        }
    }

    /// A call in a conversation of its own: the implicit one of a token of its own, of `subject`
    /// (by default a new user, so the per-user limit on new conversations never applies), started
    /// from `scope`.
    static func caller(
        _ tenant: TenantID,
        tool: String,
        subject: String = "user-\(UUID().uuidString)",
        scope: [String]? = nil
    ) -> CallIdentity {
        CallIdentity(
            requestID: "r-\(UUID().uuidString.prefix(8))",
            principal: Principal(
                tenant: tenant,
                issuer: "https://issuer.example",
                subject: subject,
                scopes: [.read, .write],
                tokenKey: "jti:\(UUID().uuidString)",
                conversationScope: scope,
                expiresAt: Int64(Date.now.timeIntervalSince1970) + 600
            ),
            method: "tools/call",
            tool: tool,
            operation: tool,
            conversation: ConversationKey(.implicit, id: UUID().uuidString),
            claimedScope: scope
        )
    }

    /// Creates a tenant no other test uses, with `count` documents in collection `notes`.
    static func newTenant(_ prefix: String, documents count: Int) async throws -> TenantID {
        let tenant = try TenantID(validating: "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())")
        try await asAdmin { connection in
            let store = ProvisioningStore(connection: connection, logger: logger)
            _ = try await store.createTenant(tenant, name: nil, dailyBudget: nil, scopes: nil)
            for index in 0..<count {
                let uri = ResourceURI(
                    tenant: tenant,
                    collection: try CollectionName(validating: "notes"),
                    id: try DocumentID(validating: "n\(index)")
                )
                _ = try await store.putDocument(uri, bodyJSON: #"{"text": "note \#(index)"}"#)
            }
        }
        return tenant
    }

    /// One transaction on `connection` with `tenant` set, as the server runs each call.
    static func asTenant<R: Sendable>(
        _ tenant: TenantID,
        on connection: PostgresConnection,
        _ body: (PostgresConnection) async throws -> R
    ) async throws -> R {
        try await connection.withTenantTransaction(tenant, logger: logger, body)
    }

    /// Runs a statement and drains its rows.
    static func run(_ query: PostgresQuery, on connection: PostgresConnection) async throws {
        for try await _ in try await connection.query(query, logger: logger) {}
    }

    static func count(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> Int {
        for try await value in try await connection.query(query, logger: logger).decode(Int.self) {
            return value
        }
        return -1
    }

    /// The SQLSTATE a statement fails with, or nil when it succeeds.
    static func sqlState(of query: PostgresQuery, on connection: PostgresConnection) async -> String? {
        do {
            for try await _ in try await connection.query(query, logger: logger) {}
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState] ?? "connection"
        } catch {
            return "unknown"
        }
    }
}

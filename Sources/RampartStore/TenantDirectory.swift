import Logging
import PostgresNIO
import RampartCore

/// What the server needs to know about tenants: status, grants, limits and redaction rules, one
/// round trip each (`rampart.tenant_access`).
public struct TenantDirectory: Sendable {
    public let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// The tenant's settings; nil when it does not exist.
    public func access(of tenant: TenantID, until deadline: ContinuousClock.Instant) async throws -> TenantAccess? {
        let logger = logger
        return try await database.withConnection(until: deadline) { connection in
            try await TenantAccess.load(tenant, on: connection, logger: logger)
        }
    }
}

/// The audit trail as the server writes it: batches of events that are not part of a data call,
/// and sealing of the hash chain.
public struct AuditLog: Sendable {
    public let database: Database
    let logger: Logger

    public init(database: Database, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    public func write(_ events: [AuditEvent], until deadline: ContinuousClock.Instant) async throws {
        let logger = logger
        try await database.withConnection(until: deadline) { connection in
            try await AuditStore.insertBatch(events, on: connection, logger: logger)
        }
    }

    /// Seals up to `max` committed events into the chain; 0 when another sealer is at work.
    public func seal(max: Int, until deadline: ContinuousClock.Instant) async throws -> Int {
        let logger = logger
        return try await database.withConnection(until: deadline) { connection in
            try await AuditStore.seal(max: max, on: connection, logger: logger)
        }
    }
}

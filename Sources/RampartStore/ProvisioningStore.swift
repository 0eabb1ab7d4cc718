import Foundation
import Logging
import PostgresNIO
import RampartCore

/// A tenant as the admin functions report it.
public struct TenantRecord: Sendable, Codable, Equatable {
    public let id: String
    public let name: String
    public let status: String
    public let createdAt: Date
    public let scopes: [String]
    public let documents: Int64
    public let dailyBudget: Int64?
}

public struct DocumentSummary: Sendable, Codable, Equatable {
    public let uri: String
    public let version: Int64
    public let updatedAt: Date
}

public struct StoredDocument: Sendable, Equatable {
    public let uri: ResourceURI
    /// The document as JSON text, exactly as PostgreSQL renders the jsonb value.
    public let bodyJSON: String
    public let version: Int64
    public let updatedAt: Date
}

public struct DocumentWrite: Sendable, Codable, Equatable {
    public let uri: String
    public let version: Int64
    public let created: Bool
}

/// Calls the provisioning SQL functions of `sql/003_provisioning.sql`, the same ones a DBA calls
/// from psql; nothing here touches a table directly.
public struct ProvisioningStore: Sendable {
    public let connection: PostgresConnection
    public let logger: Logger

    public init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    public func createTenant(
        _ tenant: TenantID,
        name: String?,
        dailyBudget: Int64?,
        scopes: [Scope]?
    ) async throws -> TenantRecord {
        let scopeNames = scopes.map { $0.map(\.rawValue) }
        try await run(
            scopeNames == nil
                ? "SELECT rampart.create_tenant(\(tenant.rawValue), \(name), \(dailyBudget))"
                : "SELECT rampart.create_tenant(\(tenant.rawValue), \(name), \(dailyBudget), \(scopeNames))"
        )
        return try await showTenant(tenant)
    }

    public func listTenants() async throws -> [TenantRecord] {
        try await tenants(
            "SELECT tenant_id, name, status, created_at, scopes, documents, NULL::bigint FROM rampart.list_tenants()"
        )
    }

    public func showTenant(_ tenant: TenantID) async throws -> TenantRecord {
        let found = try await tenants(
            """
            SELECT tenant_id, name, status, created_at, scopes, documents, daily_budget
            FROM rampart.show_tenant(\(tenant.rawValue))
            """
        )
        guard let record = found.first else { throw RampartError(.notFound, "unknown tenant '\(tenant)'") }
        return record
    }

    public func setSuspended(_ tenant: TenantID, _ suspended: Bool) async throws -> TenantRecord {
        try await run(
            suspended
                ? "SELECT rampart.suspend_tenant(\(tenant.rawValue))"
                : "SELECT rampart.resume_tenant(\(tenant.rawValue))"
        )
        return try await showTenant(tenant)
    }

    public func grantScopes(_ tenant: TenantID, _ scopes: [Scope]) async throws -> [String] {
        try await strings("SELECT unnest(rampart.grant_scopes(\(tenant.rawValue), \(scopes.map(\.rawValue))))")
    }

    public func revokeScopes(_ tenant: TenantID, _ scopes: [Scope]) async throws -> [String] {
        try await strings("SELECT unnest(rampart.revoke_scopes(\(tenant.rawValue), \(scopes.map(\.rawValue))))")
    }

    public func listScopes(_ tenant: TenantID) async throws -> [String] {
        try await strings("SELECT unnest(rampart.list_scopes(\(tenant.rawValue)))")
    }

    /// Creates or replaces one document; `bodyJSON` must be a JSON object (checked by the database
    /// too). With `droppingID`, its top-level `"id"` member (the import format's key) is not stored.
    public func putDocument(
        _ uri: ResourceURI,
        bodyJSON: String,
        ifVersion: Int64? = nil,
        droppingID: Bool = false
    ) async throws -> DocumentWrite {
        do {
            let (tenant, collection, id) = (uri.tenant.rawValue, uri.collection.rawValue, uri.id.rawValue)
            let rows = try await connection.fetch(
                droppingID
                    ? """
                    SELECT version, created FROM rampart.put_document(
                        \(tenant), \(collection), \(id), \(bodyJSON)::jsonb - 'id', \(ifVersion))
                    """
                    : """
                    SELECT version, created FROM rampart.put_document(
                        \(tenant), \(collection), \(id), \(bodyJSON)::jsonb, \(ifVersion))
                    """,
                logger: logger
            )
            for (version, created) in try rows.decode((Int64, Bool).self) {
                return DocumentWrite(uri: uri.description, version: version, created: created)
            }
            throw RampartError.internal(detail: "put_document returned no row")
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    /// Puts every document (import lines, keyed by their `"id"` member) in one transaction: all
    /// of them, or none.
    public func importDocuments(_ documents: [(ResourceURI, String)]) async throws -> [DocumentWrite] {
        do {
            return try await connection.withTransaction(logger: logger) { _ in
                var writes: [DocumentWrite] = []
                for (uri, body) in documents {
                    writes.append(try await putDocument(uri, bodyJSON: body, droppingID: true))
                }
                return writes
            }
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    public func getDocument(_ uri: ResourceURI) async throws -> StoredDocument {
        do {
            let rows = try await connection.fetch(
                """
                SELECT body::text, version, updated_at
                FROM rampart.get_document(\(uri.tenant.rawValue), \(uri.collection.rawValue), \(uri.id.rawValue))
                """,
                logger: logger
            )
            for (body, version, updatedAt) in try rows.decode((String, Int64, Date).self) {
                return StoredDocument(uri: uri, bodyJSON: body, version: version, updatedAt: updatedAt)
            }
            throw RampartError(.notFound, "document \(uri) not found")
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    public func listDocuments(_ tenant: TenantID, collection: CollectionName?) async throws -> [DocumentSummary] {
        do {
            let rows = try await connection.fetch(
                """
                SELECT collection, id, version, updated_at
                FROM rampart.list_documents(\(tenant.rawValue), \(collection?.rawValue))
                """,
                logger: logger
            )
            var documents: [DocumentSummary] = []
            for (collection, id, version, updatedAt) in try rows.decode((String, String, Int64, Date).self) {
                documents.append(
                    DocumentSummary(
                        uri: "tenant://\(tenant)/\(collection)/\(id)",
                        version: version,
                        updatedAt: updatedAt
                    )
                )
            }
            return documents
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    // MARK: - Helpers

    func run(_ query: PostgresQuery) async throws {
        do {
            try await connection.execute(query, logger: logger)
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    private func strings(_ query: PostgresQuery) async throws -> [String] {
        do {
            var values: [String] = []
            for value in try await connection.fetch(query, logger: logger).decode(String.self) {
                values.append(value)
            }
            return values
        } catch {
            throw DatabaseErrors.map(error)
        }
    }

    private func tenants(_ query: PostgresQuery) async throws -> [TenantRecord] {
        do {
            var records: [TenantRecord] = []
            let rows = try await connection.fetch(query, logger: logger)
            for (id, name, status, createdAt, scopes, documents, budget) in try rows.decode(
                (String, String, String, Date, [String], Int64, Int64?).self
            ) {
                records.append(
                    TenantRecord(
                        id: id,
                        name: name,
                        status: status,
                        createdAt: createdAt,
                        scopes: scopes,
                        documents: documents,
                        dailyBudget: budget
                    )
                )
            }
            return records
        } catch {
            throw DatabaseErrors.map(error)
        }
    }
}

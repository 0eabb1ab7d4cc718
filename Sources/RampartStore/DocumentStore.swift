import Foundation
import Logging
import PostgresNIO
import RampartCore

public struct SearchHit: Sendable, Equatable {
    public let uri: ResourceURI
    public let score: Double
    public let snippet: String
    /// The whole document when asked for (`withBodies`), else empty.
    public let bodyJSON: String
}

public struct DocumentPage: Sendable, Equatable {
    public let documents: [DocumentSummary]
    /// The last document of a full page: where the next page starts.
    public let next: (collection: String, id: String)?

    public static func == (lhs: DocumentPage, rhs: DocumentPage) -> Bool {
        lhs.documents == rhs.documents && lhs.next?.collection == rhs.next?.collection && lhs.next?.id == rhs.next?.id
    }
}

/// The tenant's documents, as the server role sees them. Every method runs inside a tenant
/// transaction (`withTenantTransaction`), so RLS applies; each statement also names the tenant,
/// so a query is correct without the wall and the primary-key index serves it.
public struct DocumentStore: Sendable {
    public let connection: PostgresConnection
    public let tenant: TenantID
    public let logger: Logger

    public init(connection: PostgresConnection, tenant: TenantID, logger: Logger) {
        self.connection = connection
        self.tenant = tenant
        self.logger = logger
    }

    /// The document, if it exists; `lockingForWrite` holds its row until the transaction ends.
    public func read(
        _ collection: CollectionName,
        _ id: DocumentID,
        lockingForWrite: Bool = false
    ) async throws -> StoredDocument? {
        let rows = try await connection.fetch(
            """
            SELECT body::text, version, updated_at FROM rampart.documents
            WHERE tenant_id = \(tenant.rawValue) AND collection = \(collection.rawValue) AND id = \(id.rawValue)
            \(unescaped: lockingForWrite ? "FOR UPDATE" : "")
            """,
            logger: logger
        )
        for (body, version, updatedAt) in try rows.decode((String, Int64, Date).self) {
            return StoredDocument(
                uri: ResourceURI(tenant: tenant, collection: collection, id: id),
                bodyJSON: body,
                version: version,
                updatedAt: updatedAt
            )
        }
        return nil
    }

    /// One page in (collection, id) order, strictly after `after`.
    public func list(
        collection: CollectionName?,
        after: (collection: String, id: String)?,
        limit: Int,
        within scope: ScopeFilter
    ) async throws -> DocumentPage {
        let rows = try await connection.fetch(
            """
            SELECT collection, id, version, updated_at FROM rampart.documents
            WHERE tenant_id = \(tenant.rawValue)
              AND (\(collection?.rawValue)::text IS NULL OR collection = \(collection?.rawValue))
              AND (\(scope.wholeTenant) OR collection = ANY(\(scope.collections)::text[])
                   OR (collection || '/' || id) = ANY(\(scope.documents)::text[]))
              AND (collection, id) > (\(after?.collection ?? ""), \(after?.id ?? ""))
            ORDER BY collection, id
            LIMIT \(limit + 1)
            """,
            logger: logger
        )
        var documents: [DocumentSummary] = []
        var more = false
        for (collection, id, version, updatedAt) in try rows.decode((String, String, Int64, Date).self) {
            guard documents.count < limit else {
                more = true
                continue
            }
            documents.append(
                DocumentSummary(uri: "tenant://\(tenant)/\(collection)/\(id)", version: version, updatedAt: updatedAt)
            )
        }
        let last = documents.last.flatMap { try? ResourceURI(parsing: $0.uri) }
        return DocumentPage(
            documents: documents,
            next: more ? last.map { ($0.collection.rawValue, $0.id.rawValue) } : nil
        )
    }

    /// Full-text search over the documents' string values, best match first, with a highlighted
    /// snippet built from those values only (never keys or JSON punctuation).
    ///
    /// `hiding` maps each collection where the caller may not see everything to its redaction
    /// rules (`Redactor.sqlRules`): documents there are matched and ranked on what the caller
    /// sees (`rampart.visible`), never on hidden text — a query pairing a visible term with a
    /// hidden one, or excluding a hidden one, tells nothing. That path reads every document of the
    /// collections searched (no index can hold a per-caller view), and returns bodies, never a
    /// database-made snippet. With `withBodies` (or `hiding`), each hit carries its document for
    /// the caller to build the snippet from what it may show.
    public func search(
        _ text: String,
        collection: CollectionName?,
        limit: Int,
        within scope: ScopeFilter,
        hiding rules: [String: JSONValue] = [:],
        withBodies: Bool = false
    ) async throws -> [SearchHit] {
        let query: PostgresQuery
        if rules.isEmpty {
            query = """
                SELECT d.collection, d.id, ts_rank(d.search, q)::float8,
                       CASE WHEN \(withBodies) THEN '' ELSE ts_headline('english',
                           coalesce((SELECT string_agg(v #>> '{}', ' … ')
                                     FROM jsonb_path_query(d.body, 'strict $.** ? (@.type() == "string")') AS v), ''),
                           q, 'StartSel=**, StopSel=**, MaxWords=24, MinWords=8, MaxFragments=2') END,
                       CASE WHEN \(withBodies) THEN d.body::text ELSE '' END
                FROM rampart.documents d, websearch_to_tsquery('english', \(text)) AS q
                WHERE d.tenant_id = \(tenant.rawValue) AND d.search @@ q
                  AND (\(collection?.rawValue)::text IS NULL OR d.collection = \(collection?.rawValue))
                  AND (\(scope.wholeTenant) OR d.collection = ANY(\(scope.collections)::text[])
                       OR (d.collection || '/' || d.id) = ANY(\(scope.documents)::text[]))
                ORDER BY 3 DESC, d.collection, d.id
                LIMIT \(limit)
                """
        } else {
            let hidden = JSONValue.object(rules).jsonText
            query = """
                SELECT d.collection, d.id, ts_rank(v.vector, q)::float8, '', d.body::text
                FROM rampart.documents d, websearch_to_tsquery('english', \(text)) AS q,
                     LATERAL (SELECT CASE WHEN \(hidden)::jsonb ? d.collection
                                          THEN jsonb_to_tsvector('english'::regconfig,
                                                   rampart.visible(d.body, \(hidden)::jsonb -> d.collection),
                                                   '["string"]')
                                          ELSE d.search END AS vector) AS v
                WHERE d.tenant_id = \(tenant.rawValue) AND v.vector @@ q
                  AND (\(collection?.rawValue)::text IS NULL OR d.collection = \(collection?.rawValue))
                  AND (\(scope.wholeTenant) OR d.collection = ANY(\(scope.collections)::text[])
                       OR (d.collection || '/' || d.id) = ANY(\(scope.documents)::text[]))
                ORDER BY 3 DESC, d.collection, d.id
                LIMIT \(limit)
                """
        }
        var hits: [SearchHit] = []
        for (collection, id, score, snippet, body) in try await connection.fetch(query, logger: logger).decode(
            (String, String, Double, String, String).self
        ) {
            let uri = ResourceURI(
                tenant: tenant,
                collection: try CollectionName(validating: collection),
                id: try DocumentID(validating: id)
            )
            hits.append(SearchHit(uri: uri, score: score, snippet: snippet, bodyJSON: body))
        }
        return hits
    }

    /// Creates or replaces a document. With `ifVersion` the write only happens if the stored
    /// version is exactly that (0: only if the document does not exist yet); otherwise `.conflict`.
    public func write(
        _ collection: CollectionName,
        _ id: DocumentID,
        bodyJSON: String,
        ifVersion: Int64?
    ) async throws -> DocumentWrite {
        let (tenantID, collectionName, documentID) = (tenant.rawValue, collection.rawValue, id.rawValue)
        let query: PostgresQuery =
            switch ifVersion {
            case nil:
                """
                INSERT INTO rampart.documents AS d (tenant_id, collection, id, body)
                VALUES (\(tenantID), \(collectionName), \(documentID), \(bodyJSON)::jsonb)
                ON CONFLICT (tenant_id, collection, id)
                DO UPDATE SET body = excluded.body, version = d.version + 1, updated_at = now()
                RETURNING version, (xmax = 0)
                """
            case 0:
                """
                INSERT INTO rampart.documents (tenant_id, collection, id, body)
                VALUES (\(tenantID), \(collectionName), \(documentID), \(bodyJSON)::jsonb)
                ON CONFLICT (tenant_id, collection, id) DO NOTHING
                RETURNING version, true
                """
            case let expected?:
                """
                UPDATE rampart.documents SET body = \(bodyJSON)::jsonb, version = version + 1, updated_at = now()
                WHERE tenant_id = \(tenantID) AND collection = \(collectionName) AND id = \(documentID)
                  AND version = \(expected)
                RETURNING version, false
                """
            }
        let uri = ResourceURI(tenant: tenant, collection: collection, id: id)
        for (version, created) in try await connection.fetch(query, logger: logger).decode(
            (Int64, Bool).self
        ) {
            return DocumentWrite(uri: uri.description, version: version, created: created)
        }
        // A missing document answers like a foreign one (CONTRACT.md §7), whatever if_version said.
        if let expected = ifVersion, expected > 0, try await read(collection, id) == nil {
            throw RampartError(.notFound, "resource not found")
        }
        throw RampartError(.conflict, "version conflict: the document is not at version \(ifVersion ?? 0)")
    }

    /// Runs a validated query; each row or group comes back as one JSON object.
    /// With `scalarsOnly`, objects and arrays compare and group as null (redaction: they could
    /// hold a hidden key).
    public func query(
        _ query: DocumentQuery,
        within scope: ScopeFilter,
        scalarsOnly: Bool = false
    ) async throws -> [JSONValue] {
        try await rows(query, within: scope, scalarsOnly: scalarsOnly).map(\.value)
    }

    /// The rows of a query, each with the URIs of the documents behind it: one for a plain row;
    /// for a group, its first `documentsPerGroup` (so a group of more can be told from one of
    /// exactly that many).
    public func rows(
        _ query: DocumentQuery,
        within scope: ScopeFilter,
        scalarsOnly: Bool = false,
        documentsPerGroup: Int = 1000
    ) async throws -> [QueryRow] {
        let compiled = DocumentQuerySQL.compile(
            query,
            tenant: tenant,
            scope: scope,
            scalarsOnly: scalarsOnly,
            documentsPerGroup: documentsPerGroup
        )
        return try await connection.fetch(compiled, logger: logger).decode((String, [String]).self).map {
            QueryRow(value: try JSONParser.parse($0.0, maxDepth: 512), documents: $0.1)
        }
    }
}

/// One row of `execute_query`, and the documents it was computed from.
public struct QueryRow: Sendable, Equatable {
    public let value: JSONValue
    public let documents: [String]
}

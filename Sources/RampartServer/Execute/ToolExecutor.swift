import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartMCP
import RampartStore

/// What a tool call produced: structured content, or a tool error the model may read.
enum ToolOutcome: Sendable, Equatable {
    case success(JSONValue)
    case failure(String)

    /// The one answer for a URI of another tenant, outside the conversation, or missing.
    static let notFound = ToolOutcome.failure("resource not found")
    static let conversationNotFound = ToolOutcome.failure("conversation not found")
}

/// Runs tool calls over the tenant's documents, each in one transaction with the tenant set
/// transaction-locally so the database enforces isolation too.
struct ToolExecutor: Sendable {
    let client: PostgresClient
    let principal: Principal
    let logger: Logger
    /// The handshake-era session the call runs in, if any (already checked by the dispatcher).
    let session: ConversationRecord?

    func run(_ call: ToolCall, conversation handle: String?) async throws -> ToolOutcome {
        try await client.withConnection { connection in
            try await connection.withTenantTransaction(principal.tenant, logger: logger) { connection in
                let conversations = ConversationStore(connection: connection, principal: principal, logger: logger)
                var conversation = session
                if let handle {
                    guard let found = try await conversations.touch(.handle, id: handle) else {
                        return .conversationNotFound
                    }
                    conversation = found
                }
                let scope = conversation.map { $0.scope.compactMap { try? ScopePattern(parsing: $0) } }
                let documents = DocumentStore(connection: connection, tenant: principal.tenant, logger: logger)
                return try await execute(call, documents: documents, conversations: conversations, scope: scope)
            }
        }
    }

    private func execute(
        _ call: ToolCall,
        documents: DocumentStore,
        conversations: ConversationStore,
        scope: [ScopePattern]?
    ) async throws -> ToolOutcome {
        func visible(_ uri: ResourceURI) -> Bool {
            uri.tenant == principal.tenant && (scope?.contains { $0.matches(uri) } ?? true)
        }
        switch call {
        case .read(let uri):
            guard visible(uri), let document = try await documents.read(uri.collection, uri.id) else {
                return .notFound
            }
            return .success(try Self.documentJSON(document))

        case .list(let collection, let cursorText, let limit):
            let cursor = try cursorText.map { text throws(RampartError) in
                try ResourceCursor(decoding: text, tenant: principal.tenant, collection: collection)
            }
            let page = try await documents.list(
                collection: collection,
                after: cursor.map { ($0.afterCollection, $0.afterID) },
                limit: limit
            )
            var result: [String: JSONValue] = [
                "resources": .array(page.documents.map { Self.summaryJSON($0) })
            ]
            if let next = page.next {
                result["nextCursor"] = .string(
                    ResourceCursor(
                        tenant: principal.tenant,
                        collection: collection,
                        afterCollection: next.collection,
                        afterID: next.id
                    )
                    .encoded
                )
            }
            return .success(.object(result))

        case .search(let text, let collection, let limit):
            let hits = try await documents.search(text, collection: collection, limit: limit)
            return .success([
                "hits": .array(
                    hits.map {
                        [
                            "uri": .string($0.uri.description), "score": .double($0.score),
                            "snippet": .string($0.snippet),
                        ]
                    }
                )
            ])

        case .write(let uri, let content, let ifVersion):
            guard visible(uri) else { return .notFound }
            do {
                let write = try await documents.write(
                    uri.collection,
                    uri.id,
                    bodyJSON: content.jsonText,
                    ifVersion: ifVersion
                )
                return .success(["uri": .string(write.uri), "version": .int(write.version)])
            } catch let error as RampartError where error.code == .conflict {
                return .failure(error.message)
            }

        case .query(let query):
            return .success(["rows": .array(try await documents.query(query))])

        case .openConversation(let requested, let purpose):
            let current = scope ?? startingScope()
            let patterns = requested ?? current
            for pattern in patterns where !current.contains(where: { pattern.isWithin($0) }) {
                return .failure(
                    "invalid argument \"scope\": \(pattern) is outside the current scope; a conversation can only narrow it"
                )
            }
            let record = try await conversations.create(
                .handle,
                id: RandomHandle.make(),
                scope: patterns.map(\.description),
                purpose: purpose
            )
            return .success([
                "conversation": .string(record.id),
                "scope": .array(record.scope.map(JSONValue.string)),
                "expiresAt": .string(Timestamp.iso8601(record.expiresAt)),
            ])
        }
    }

    /// A new conversation's scope: the token's `rampart_scope` patterns of its own tenant, else the
    /// whole tenant.
    func startingScope() -> [ScopePattern] {
        let claimed = (principal.conversationScope ?? []).compactMap { try? ScopePattern(parsing: $0) }
            .filter { $0.tenant == principal.tenant }
        return principal.conversationScope == nil ? [ScopePattern(tenant: principal.tenant)] : claimed
    }

    static func documentJSON(_ document: StoredDocument) throws -> JSONValue {
        [
            "uri": .string(document.uri.description),
            "version": .int(document.version),
            "updatedAt": .string(Timestamp.iso8601(document.updatedAt)),
            "content": try JSONParser.parse(document.bodyJSON, maxDepth: 512),
        ]
    }

    static func summaryJSON(_ summary: DocumentSummary) -> JSONValue {
        [
            "uri": .string(summary.uri), "version": .int(summary.version),
            "updatedAt": .string(Timestamp.iso8601(summary.updatedAt)),
        ]
    }
}

enum Timestamp {
    static func iso8601(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

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
/// transaction-locally so the database enforces isolation too. The call's audit event is written
/// in that same transaction: no effect without its record, and no record of an effect that
/// rolled back.
struct ToolExecutor: Sendable {
    let client: PostgresClient
    let principal: Principal
    let logger: Logger
    /// The handshake-era session the call runs in, if any (already checked by the dispatcher).
    let session: ConversationRecord?
    let audit: AuditActor
    let context: RequestAudit

    func run(_ call: ToolCall, conversation handle: String?) async throws -> ToolOutcome {
        var context = context
        if let handle { context.conversation = handle }
        let (outcome, event) = try await client.withMeteredConnection { connection in
            try await connection.withTenantTransaction(principal.tenant, logger: logger) { connection in
                let conversations = ConversationStore(connection: connection, principal: principal, logger: logger)
                var conversation = session
                var result: (ToolOutcome, AuditEvent)
                if let handle, let found = try await conversations.touch(.handle, id: handle) {
                    conversation = found
                } else if handle != nil {
                    result = (.conversationNotFound, context.deny(.context, "conversation not found"))
                    try await AuditStore.insert([result.1], on: connection, logger: logger)
                    return result
                }
                let scope = conversation.map { $0.scope.compactMap { try? ScopePattern(parsing: $0) } }
                let documents = DocumentStore(connection: connection, tenant: principal.tenant, logger: logger)
                result = try await execute(
                    call,
                    documents: documents,
                    conversations: conversations,
                    scope: scope,
                    context: context
                )
                try await AuditStore.insert([result.1], on: connection, logger: logger)
                return result
            }
        }
        await audit.committed([event])
        return outcome
    }

    private func execute(
        _ call: ToolCall,
        documents: DocumentStore,
        conversations: ConversationStore,
        scope: [ScopePattern]?,
        context: RequestAudit
    ) async throws -> (ToolOutcome, AuditEvent) {
        /// Why a URI is not served; the client only ever learns "resource not found".
        func refusal(_ uri: ResourceURI) -> String? {
            if uri.tenant != principal.tenant { return "cross-tenant uri" }
            if let scope, !scope.contains(where: { $0.matches(uri) }) { return "outside conversation scope" }
            return nil
        }
        switch call {
        case .read(let uri):
            if let reason = refusal(uri) {
                return (.notFound, context.event(.deny, .access, reason, resource: "\(uri)"))
            }
            guard let document = try await documents.read(uri.collection, uri.id) else {
                return (.notFound, context.event(.deny, .access, "not found", resource: "\(uri)"))
            }
            return (
                .success(try Self.documentJSON(document)),
                context.event(
                    .allow,
                    .execute,
                    "read",
                    resource: "\(uri)",
                    details: ["version": .int(document.version)]
                )
            )

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
            return (
                .success(.object(result)),
                context.event(
                    .allow,
                    .execute,
                    "listed",
                    resource: collection?.rawValue,
                    details: ["count": .int(Int64(page.documents.count))]
                )
            )

        case .search(let text, let collection, let limit):
            let hits = try await documents.search(text, collection: collection, limit: limit)
            let outcome = ToolOutcome.success([
                "hits": .array(
                    hits.map {
                        [
                            "uri": .string($0.uri.description), "score": .double($0.score),
                            "snippet": .string($0.snippet),
                        ]
                    }
                )
            ])
            return (
                outcome,
                context.event(
                    .allow,
                    .execute,
                    "searched",
                    resource: collection?.rawValue,
                    details: ["hits": .int(Int64(hits.count)), "query_length": .int(Int64(text.count))]
                )
            )

        case .write(let uri, let content, let ifVersion):
            if let reason = refusal(uri) {
                return (.notFound, context.event(.deny, .access, reason, resource: "\(uri)"))
            }
            do {
                let write = try await documents.write(
                    uri.collection,
                    uri.id,
                    bodyJSON: content.jsonText,
                    ifVersion: ifVersion
                )
                return (
                    .success(["uri": .string(write.uri), "version": .int(write.version)]),
                    context.event(
                        .allow,
                        .execute,
                        write.created ? "created" : "updated",
                        resource: write.uri,
                        details: ["version": .int(write.version)]
                    )
                )
            } catch let error as RampartError where error.code == .conflict {
                return (.failure(error.message), context.event(.deny, .execute, "version conflict", resource: "\(uri)"))
            }

        case .query(let query):
            let rows = try await documents.query(query)
            return (
                .success(["rows": .array(rows)]),
                context.event(
                    .allow,
                    .execute,
                    "queried",
                    resource: query.collection.rawValue,
                    details: ["rows": .int(Int64(rows.count))]
                )
            )

        case .openConversation(let requested, let purpose):
            let current = scope ?? principal.startingScope
            let patterns = requested ?? current
            for pattern in patterns where !current.contains(where: { pattern.isWithin($0) }) {
                return (
                    .failure(
                        "invalid argument \"scope\": \(pattern) is outside the current scope; a conversation can only narrow it"
                    ),
                    context.event(
                        .deny,
                        .context,
                        "scope widening refused",
                        details: ["pattern": .string("\(pattern)")]
                    )
                )
            }
            let record = try await conversations.create(
                .handle,
                id: RandomHandle.make(),
                scope: patterns.map(\.description),
                purpose: purpose
            )
            var opened = context
            opened.conversation = record.id
            return (
                .success([
                    "conversation": .string(record.id),
                    "scope": .array(record.scope.map(JSONValue.string)),
                    "expiresAt": .string(Timestamp.iso8601(record.expiresAt)),
                ]),
                opened.event(
                    .allow,
                    .context,
                    "conversation opened",
                    details: ["scope": .array(record.scope.map(JSONValue.string))]
                )
            )
        }
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

extension Principal {
    /// A new conversation's scope: the token's `rampart_scope` patterns of its own tenant, else the
    /// whole tenant.
    var startingScope: [ScopePattern] {
        let claimed = (conversationScope ?? []).compactMap { try? ScopePattern(parsing: $0) }.filter {
            $0.tenant == tenant
        }
        return conversationScope == nil ? [ScopePattern(tenant: tenant)] : claimed
    }
}

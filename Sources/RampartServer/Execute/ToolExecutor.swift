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
/// transaction-locally so the database enforces isolation too. The call's conversation is
/// resolved (and its idle timer restarted) in that transaction, its scope filters what the call
/// may see, and the call's audit event is written there as well: no effect without its record.
struct ToolExecutor: Sendable {
    let database: Database
    let deadline: ContinuousClock.Instant
    let principal: Principal
    let logger: Logger
    /// The handshake-era session the request belongs to, if any.
    let sessionID: String?
    let audit: AuditActor
    let context: RequestAudit
    /// The tenant's settings from the tenant cache (a NOTIFY refreshes them): redaction rules,
    /// detection, default scope, creation limit.
    let tenant: TenantAccess

    func run(_ call: ToolCall, conversation handle: String?) async throws -> ToolOutcome {
        let reference = ConversationReference(handle: handle, sessionID: sessionID)
        let (outcome, event) = try await database.withConnection(until: deadline) { connection in
            try await connection.withTenantTransaction(principal.tenant, until: deadline, logger: logger) {
                connection in
                let store = ConversationStore(connection: connection, principal: principal, logger: logger)
                let resolver = ConversationResolver(store: store, principal: principal, tenant: tenant, logger: logger)
                var context = context
                var result: (ToolOutcome, AuditEvent)
                if case .openConversation = call, handle == nil, sessionID == nil {
                    // Opening a conversation needs no implicit one: it narrows the starting scope.
                    result = try await execute(
                        call,
                        in: nil,
                        resolver: resolver,
                        connection: connection,
                        context: context
                    )
                } else {
                    switch try await resolver.resolve(reference) {
                    case .notFound:
                        if let handle { context.conversation = handle }
                        result = (.conversationNotFound, context.deny(.context, "conversation not found"))
                    case .found(let conversation):
                        context.conversation = conversation.id
                        result = try await execute(
                            call,
                            in: conversation,
                            resolver: resolver,
                            connection: connection,
                            context: context
                        )
                    }
                }
                if tenant.piiDetection, case .success(let value) = result.0, call.returnsContent, !call.isSearch {
                    // The tenant opted in: PII and secrets in what goes out are masked and counted
                    // (search does it itself, on each snippet before it is marked).
                    let (scanned, found) = PIIDetector().scan(value)
                    result.0 = .success(scanned)
                    if !found.isEmpty { result.1.details["detected"] = Self.detectionCounts(found) }
                }
                if case .success = result.0 {
                    // Charged only when the operation succeeded, in its transaction: a refusal
                    // throws, the transaction rolls back, and nothing happened.
                    result.1.cost = try await BudgetStore.charge(
                        call.operation,
                        tenant: principal.tenant,
                        issuer: principal.issuer,
                        subject: principal.subject,
                        on: connection,
                        logger: logger
                    )
                }
                try await AuditStore.insert([result.1], on: connection, logger: logger)
                return result
            }
        }
        await audit.committed([event])
        return outcome
    }

    private func execute(
        _ call: ToolCall,
        in conversation: ConversationRecord?,
        resolver: ConversationResolver,
        connection: PostgresConnection,
        context: RequestAudit
    ) async throws -> (ToolOutcome, AuditEvent) {
        let scope: [ScopePattern]
        if let conversation {
            scope = conversation.scope.compactMap { try? ScopePattern(parsing: $0) }
        } else {
            scope = resolver.startingScope()
        }
        let filter = ScopeFilter(scope, tenant: principal.tenant)
        let documents = DocumentStore(connection: connection, tenant: principal.tenant, logger: logger)
        /// Why a URI is not served; the client only ever learns "resource not found".
        func refusal(_ uri: ResourceURI) -> String? {
            if uri.tenant != principal.tenant { return "cross-tenant uri" }
            if !scope.contains(where: { $0.matches(uri) }) { return "outside conversation scope" }
            return nil
        }
        /// The URIs the conversation may still receive, under its cap of distinct resources.
        func admitted(_ uris: [String]) async throws -> Set<String> {
            guard let conversation else { return Set(uris) }
            return try await resolver.store.admit(uris, to: conversation)
        }
        /// Which groups of URIs the conversation may still receive, each whole or not at all.
        func admitted(groups: [[String]]) async throws -> [Bool] {
            guard let conversation else { return groups.map { _ in true } }
            return try await resolver.store.admit(groups: groups, to: conversation)
        }
        /// The caller's view of a collection under the tenant's redaction rules.
        func redactor(_ collection: String) -> Redactor {
            Redactor(rules: tenant.redactions, collection: collection, scopes: principal.scopes)
        }
        let capReached = ToolOutcome.failure(
            "conversation resource limit reached: open a new conversation for other resources"
        )

        switch call {
        case .read(let uri):
            if let reason = refusal(uri) {
                return (.notFound, context.event(.deny, .access, reason, resource: "\(uri)"))
            }
            guard let document = try await documents.read(uri.collection, uri.id) else {
                return (.notFound, context.event(.deny, .access, "not found", resource: "\(uri)"))
            }
            guard try await admitted(["\(uri)"]).contains("\(uri)") else {
                return (capReached, context.event(.deny, .context, "resource cap reached", resource: "\(uri)"))
            }
            let (shown, redacted) = try Self.documentJSON(document, redactor: redactor(uri.collection.rawValue))
            return (
                .success(shown),
                context.event(
                    .allow,
                    .execute,
                    "read",
                    resource: "\(uri)",
                    details: ["version": .int(document.version), "redacted": .int(Int64(redacted))]
                )
            )

        case .list(let collection, let cursorText, let limit):
            let cursor = try cursorText.map { text throws(RampartError) in
                try ResourceCursor(decoding: text, tenant: principal.tenant, collection: collection)
            }
            let page = try await documents.list(
                collection: collection,
                after: cursor.map { ($0.afterCollection, $0.afterID) },
                limit: limit,
                within: filter
            )
            var result: [String: JSONValue] = ["resources": .array(page.documents.map { Self.summaryJSON($0) })]
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
            // Where this caller may not see a collection whole, its documents are matched and ranked
            // on what the caller sees (no search oracle for hidden values), and snippets are
            // rebuilt from the redacted document; detection runs on a snippet's text before any
            // marker goes in.
            let hiding = Dictionary(
                Set(tenant.redactions.map(\.collection)).filter { collection == nil || $0 == collection?.rawValue }
                    .compactMap { name in redactor(name).isEmpty ? nil : (name, redactor(name).sqlRules) },
                uniquingKeysWith: { first, _ in first }
            )
            let rebuild = !hiding.isEmpty || tenant.piiDetection
            var visible: [(hit: SearchHit, snippet: String)] = []
            var redacted = 0
            var detected: [PIIDetector.Kind: Int] = [:]
            for hit in try await documents.search(
                text,
                collection: collection,
                limit: limit,
                within: filter,
                hiding: hiding,
                withBodies: rebuild
            ) {
                guard rebuild else {
                    visible.append((hit, hit.snippet))
                    continue
                }
                let (shown, count) = redactor(hit.uri.collection.rawValue).apply(
                    try JSONParser.parse(hit.bodyJSON, maxDepth: 512)
                )
                redacted += count
                guard var source = Snippet.source(in: shown, query: text) else { continue }
                if tenant.piiDetection { source = PIIDetector().scan(source, found: &detected) }
                visible.append((hit, Snippet.window(of: source, query: text)))
            }
            let allowed = try await admitted(visible.map(\.hit.uri.description))
            let hits = visible.filter { allowed.contains($0.hit.uri.description) }
            let outcome = ToolOutcome.success([
                "hits": .array(
                    hits.map {
                        [
                            "uri": .string($0.hit.uri.description), "score": .double($0.hit.score),
                            "snippet": .string($0.snippet),
                        ]
                    }
                )
            ])
            var details: [String: JSONValue] = [
                "hits": .int(Int64(hits.count)), "withheld_by_cap": .int(Int64(visible.count - hits.count)),
                "query_length": .int(Int64(text.count)), "redacted": .int(Int64(redacted)),
            ]
            if !detected.isEmpty { details["detected"] = Self.detectionCounts(detected) }
            return (
                outcome,
                context.event(.allow, .execute, "searched", resource: collection?.rawValue, details: details)
            )

        case .write(let uri, let content, let ifVersion):
            if let reason = refusal(uri) {
                return (.notFound, context.event(.deny, .access, reason, resource: "\(uri)"))
            }
            guard try await admitted(["\(uri)"]).contains("\(uri)") else {
                return (capReached, context.event(.deny, .context, "resource cap reached", resource: "\(uri)"))
            }
            // A caller who may not see the whole document writes back what it read: the fields it
            // could not see are kept as stored, never overwritten with placeholders or dropped.
            var content = content
            var preserved = 0
            let hiding = redactor(uri.collection.rawValue)
            if !hiding.isEmpty,
                let stored = try await documents.read(uri.collection, uri.id, lockingForWrite: true)
            {
                guard
                    let merged = hiding.preserving(try JSONParser.parse(stored.bodyJSON, maxDepth: 512), into: content)
                else {
                    return (
                        .failure(
                            "invalid argument \"content\": it would remove fields you cannot see; keep the objects "
                                + "and array entries that hold them"
                        ),
                        context.event(.deny, .sanitize, "write would remove hidden fields", resource: "\(uri)")
                    )
                }
                (content, preserved) = merged
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
                        details: ["version": .int(write.version), "preserved": .int(Int64(preserved))]
                    )
                )
            } catch let error as RampartError where error.code == .conflict {
                return (.failure(error.message), context.event(.deny, .execute, "version conflict", resource: "\(uri)"))
            } catch let error as RampartError where error.code == .notFound {
                return (.notFound, context.event(.deny, .access, "not found", resource: "\(uri)"))
            }

        case .query(let query):
            let redactor = redactor(query.collection.rawValue)
            if let hidden = query.fieldsUsed.first(where: redactor.conceals) {
                return (
                    .failure("invalid argument: field \"\(hidden)\" is not visible to you and cannot be queried"),
                    context.event(.deny, .sanitize, "query on a redacted field", resource: query.collection.rawValue)
                )
            }
            // Every row counts against the conversation's resource cap by the documents behind it:
            // a document for a plain row, all of a group's for an aggregate (a group of more
            // documents than the cap can never fit, so one more than the cap is enough to know).
            let maxResources = conversation?.maxResources ?? Int(DocumentQuery.maxLimit)
            let found = try await documents.rows(
                query,
                within: filter,
                scalarsOnly: redactor.comparesScalarsOnly,
                documentsPerGroup: maxResources + 1
            )
            let fits = try await admitted(groups: found.map(\.documents))
            let rows = zip(found, fits).filter(\.1).map { row, _ in
                guard case .object(var members) = row.value, let content = members["content"] else { return row.value }
                members["content"] = redactor.apply(content).value
                return .object(members)
            }
            return (
                .success(["rows": .array(rows)]),
                context.event(
                    .allow,
                    .execute,
                    "queried",
                    resource: query.collection.rawValue,
                    details: [
                        "rows": .int(Int64(rows.count)), "withheld_by_cap": .int(Int64(found.count - rows.count)),
                    ]
                )
            )

        case .openConversation(let requested, let purpose):
            let patterns = requested ?? scope
            for pattern in patterns where !scope.contains(where: { pattern.isWithin($0) }) {
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
            let record = try await resolver.open(.handle, id: RandomHandle.make(), scope: patterns, purpose: purpose)
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

    /// `{uri, version, updatedAt, content}`, the content as `redactor` lets the caller see it,
    /// with how many fields were hidden.
    static func documentJSON(_ document: StoredDocument, redactor: Redactor) throws -> (JSONValue, Int) {
        let (content, redacted) = redactor.apply(try JSONParser.parse(document.bodyJSON, maxDepth: 512))
        let json: JSONValue = [
            "uri": .string(document.uri.description),
            "version": .int(document.version),
            "updatedAt": .string(Timestamp.iso8601(document.updatedAt)),
            "content": content,
        ]
        return (json, redacted)
    }

    static func detectionCounts(_ found: [PIIDetector.Kind: Int]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: found.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) }))
    }

    static func summaryJSON(_ summary: DocumentSummary) -> JSONValue {
        [
            "uri": .string(summary.uri), "version": .int(summary.version),
            "updatedAt": .string(Timestamp.iso8601(summary.updatedAt)),
        ]
    }
}

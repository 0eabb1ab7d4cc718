import Foundation
import Logging
import PostgresNIO
import RampartCore

/// The data calls of `rampart serve`, each one round trip: one method per operation, each running
/// its SQL function (sql/010) over a batch of calls of one tenant (one call today) and returning
/// every call's answer in order. Nothing is locked between round trips: a lock taken by a call's
/// function is released when that one statement commits.
public struct CallStore: Sendable {
    public let database: Database
    let statements: PreparedStatements
    let logger: Logger
    let committed: CommittedEvents

    /// `prepared`: protocol-level prepared statements (off behind a transaction-mode pooler).
    /// `committed`: hears the audit event of every call that committed.
    public init(database: Database, prepared: Bool, logger: Logger, committed: @escaping CommittedEvents = { _ in }) {
        self.database = database
        statements = PreparedStatements(enabled: prepared)
        self.logger = logger
        self.committed = committed
    }

    public struct Read: Sendable {
        public let identity: CallIdentity
        public let uri: ResourceURI
        /// The caller's redaction rules for the collection (`Redactor.sqlRules`), for the count.
        public let rules: JSONValue?

        public init(identity: CallIdentity, uri: ResourceURI, rules: JSONValue?) {
            self.identity = identity
            self.uri = uri
            self.rules = rules
        }
    }

    /// Payload: the document's JSON; detail: conversation, version, updated_at.
    public func read(
        _ calls: [Read],
        tenant: TenantID,
        until deadline: ContinuousClock.Instant
    ) async throws -> [CallAnswer] {
        try await run(
            "read",
            tenant: tenant,
            calls: calls.map { call in
                var arguments: [String: JSONValue] = ["uri": .string(call.uri.description)]
                if let rules = call.rules { arguments["rules"] = rules }
                return call.identity.json(arguments)
            },
            until: deadline
        )
    }

    public struct List: Sendable {
        public let identity: CallIdentity
        public let collection: CollectionName?
        public let after: (collection: String, id: String)?
        public let limit: Int

        public init(identity: CallIdentity, collection: CollectionName?, after: (String, String)?, limit: Int) {
            self.identity = identity
            self.collection = collection
            self.after = after.map { (collection: $0.0, id: $0.1) }
            self.limit = limit
        }
    }

    /// Payload: `[[collection, id, version, updatedAt]…]`, `limit + 1` of them when a page follows.
    public func list(_ calls: [List], tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> [CallAnswer]
    {
        try await run(
            "list",
            tenant: tenant,
            calls: calls.map { call in
                var arguments: [String: JSONValue] = ["limit": .int(Int64(call.limit))]
                if let collection = call.collection { arguments["collection"] = .string(collection.rawValue) }
                if let after = call.after { arguments["after"] = [.string(after.collection), .string(after.id)] }
                return call.identity.json(arguments)
            },
            until: deadline
        )
    }

    public struct Search: Sendable {
        public let identity: CallIdentity
        public let text: String
        public let collection: CollectionName?
        public let limit: Int
        /// The caller's rules of each collection it may not see whole: matched on what it sees.
        public let hiding: [String: JSONValue]
        /// Bodies instead of database-made snippets (the caller rebuilds them).
        public let bodies: Bool

        public init(
            identity: CallIdentity,
            text: String,
            collection: CollectionName?,
            limit: Int,
            hiding: [String: JSONValue],
            bodies: Bool
        ) {
            self.identity = identity
            self.text = text
            self.collection = collection
            self.limit = limit
            self.hiding = hiding
            self.bodies = bodies
        }
    }

    /// Payload: `[[uri, score, snippet, body]…]`, the hits the conversation may take, best first.
    public func search(
        _ calls: [Search],
        tenant: TenantID,
        until deadline: ContinuousClock.Instant,
        preview: Bool = false
    ) async throws -> [CallAnswer] {
        try await run(
            "search",
            tenant: tenant,
            calls: calls.map { call in
                var arguments: [String: JSONValue] = [
                    "query": .string(call.text), "limit": .int(Int64(call.limit)), "bodies": .bool(call.bodies),
                ]
                if let collection = call.collection { arguments["collection"] = .string(collection.rawValue) }
                if !call.hiding.isEmpty { arguments["hiding"] = .object(call.hiding) }
                return call.identity.json(arguments)
            },
            until: deadline,
            preview: preview
        )
    }

    public struct Write: Sendable {
        public let identity: CallIdentity
        public let uri: ResourceURI
        public let content: JSONValue
        public let ifVersion: Int64?
        /// The version hidden fields were merged from: the write happens only at that version.
        public let expectVersion: Int64?

        public init(
            identity: CallIdentity,
            uri: ResourceURI,
            content: JSONValue,
            ifVersion: Int64?,
            expectVersion: Int64?
        ) {
            self.identity = identity
            self.uri = uri
            self.content = content
            self.ifVersion = ifVersion
            self.expectVersion = expectVersion
        }
    }

    /// Detail: version and created (ok), expected (conflict).
    public func write(_ calls: [Write], tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> [CallAnswer]
    {
        try await run(
            "write",
            tenant: tenant,
            calls: calls.map { call in
                var arguments: [String: JSONValue] = ["uri": .string(call.uri.description), "content": call.content]
                if let ifVersion = call.ifVersion { arguments["if_version"] = .int(ifVersion) }
                if let expected = call.expectVersion { arguments["expect_version"] = .int(expected) }
                return call.identity.json(arguments)
            },
            until: deadline
        )
    }

    public struct Query: Sendable {
        public let identity: CallIdentity
        public let query: DocumentQuery
        /// Objects and arrays compare and group as null (a hidden key could be inside).
        public let scalarsOnly: Bool

        public init(identity: CallIdentity, query: DocumentQuery, scalarsOnly: Bool) {
            self.identity = identity
            self.query = query
            self.scalarsOnly = scalarsOnly
        }
    }

    /// Payload: the rows the conversation may take, in order (each an object).
    public func query(
        _ calls: [Query],
        tenant: TenantID,
        until deadline: ContinuousClock.Instant,
        preview: Bool = false
    ) async throws -> [CallAnswer] {
        try await run(
            "query",
            tenant: tenant,
            calls: calls.map { call in
                let (sql, arguments) = DocumentQuerySQL.embedded(call.query, scalarsOnly: call.scalarsOnly)
                return call.identity.json([
                    "collection": .string(call.query.collection.rawValue), "sql": .string(sql), "args": arguments,
                ])
            },
            until: deadline,
            preview: preview
        )
    }

    /// A read's answer without its effects (`rampart.call_preview`): what the call would return,
    /// for detection counts that must be in the call's own audit event.
    public func previewRead(_ calls: [Read], tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> [CallAnswer]
    {
        try await run(
            "read",
            tenant: tenant,
            calls: calls.map { call in call.identity.json(["uri": .string(call.uri.description)]) },
            until: deadline,
            preview: true
        )
    }

    /// The stored document a write's conversation may see, without a lock or an effect: the
    /// version and body hidden fields are merged from.
    public func peek(_ call: Read, tenant: TenantID, until deadline: ContinuousClock.Instant) async throws
        -> (version: Int64, body: String)?
    {
        let sql = "SELECT version::text, body FROM rampart.peek_document($1::text, $2::text::jsonb)"
        let binds = [tenant.rawValue, call.identity.json(["uri": .string(call.uri.description)]).jsonText]
        let (statements, logger) = (statements, logger)
        let rows = try await database.withConnection(until: deadline) { connection in
            try await statements.run(sql, binds: binds, on: connection, logger: logger)
        }
        guard let (version, body) = try rows.first?.decode((String, String).self), let number = Int64(version) else {
            return nil
        }
        return (number, body)
    }

    private func run(
        _ operation: String,
        tenant: TenantID,
        calls: [JSONValue],
        until deadline: ContinuousClock.Instant,
        preview: Bool = false
    ) async throws -> [CallAnswer] {
        let sql =
            preview
            ? """
            SELECT idx::text, outcome, detail::text, payload
            FROM rampart.call_preview($1::text, $2::text, $3::text::jsonb, $4::text::jsonb)
            """
            : """
            SELECT idx::text, outcome, detail::text, payload
            FROM rampart.call_\(operation)($1::text, $2::text::jsonb, $3::text::jsonb)
            """
        let context: JSONValue = ["lock_timeout_ms": .int(PostgresConnection.milliseconds(until: deadline))]
        let binds =
            (preview ? [operation] : []) + [tenant.rawValue, context.jsonText, JSONValue.array(calls).jsonText]
        let (statements, logger) = (statements, logger)
        let rows = try await database.withConnection(until: deadline) { connection in
            try await statements.run(sql, binds: binds, on: connection, logger: logger)
        }
        var answers = [CallAnswer?](repeating: nil, count: calls.count)
        var events: [AuditEvent] = []
        for row in rows {
            let (position, outcome, detail, payload) = try row.decode((String, String, String, String?).self)
            guard let index = Int(position), answers.indices.contains(index),
                let kind = CallAnswer.Outcome(rawValue: outcome)
            else {
                throw RampartError.internal(detail: "call_\(operation) answered \(outcome) for call \(position)")
            }
            let (shown, event) = try JSONParser.parse(detail).splittingAudit(call: calls[index], tenant: tenant)
            answers[index] = CallAnswer(outcome: kind, detail: shown, payload: payload)
            if let event { events.append(event) }
        }
        // A preview's events were rolled back with it.
        if !preview { committed(events) }
        return try answers.map { answer in
            guard let answer else { throw RampartError.internal(detail: "call_\(operation) left a call unanswered") }
            return answer
        }
    }
}

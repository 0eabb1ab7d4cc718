import RampartCore

/// A tool call whose arguments passed the tool's strict schema.
public enum ToolCall: Sendable {
    case read(uri: ResourceURI)
    case list(collection: CollectionName?, cursor: String?, limit: Int)
    case search(query: String, collection: CollectionName?, limit: Int)
    case write(uri: ResourceURI, content: JSONValue, ifVersion: Int64?)
    case query(DocumentQuery)
    case openConversation(scope: [ScopePattern]?, purpose: String?)

    public static let maxDocumentBytes = 1 << 20

    /// The one document the call names, if any (for its resource rate limit).
    public var resource: ResourceURI? {
        switch self {
        case .read(let uri), .write(let uri, _, _): uri
        default: nil
        }
    }

    /// Whether its result carries document content (which redaction and detection then apply to).
    public var returnsContent: Bool {
        switch self {
        case .read, .search, .query: true
        case .list, .write, .openConversation: false
        }
    }

    public var isSearch: Bool {
        if case .search = self { return true }
        return false
    }

    /// The operation it is charged as (`rampart admin cost set`): its tool's name.
    public var operation: String {
        switch self {
        case .read: ToolCatalog.readResource.name
        case .list: ToolCatalog.listResources.name
        case .search: ToolCatalog.searchResources.name
        case .write: ToolCatalog.writeResource.name
        case .query: ToolCatalog.executeQuery.name
        case .openConversation: ToolCatalog.openConversation.name
        }
    }

    /// The parsed call and the `conversation` handle it names, if any.
    public static func parse(
        _ tool: ToolDefinition,
        arguments: [String: JSONValue]
    ) throws(RampartError) -> (call: ToolCall, conversation: String?) {
        // The published schema first, by the generic validator: what clients read is what is checked.
        // The typed parsing below adds what a schema cannot say (URI grammar, query semantics).
        try SchemaValidator.validate(.object(arguments), against: tool.inputSchema)
        let reader = try ArgumentReader(arguments, allowed: tool.argumentNames)
        let conversation = try reader.string("conversation", maxLength: 128)
        if let conversation, !ConversationHandle.isWellFormed(conversation) {
            throw ArgumentReader.invalid("conversation", "not a conversation handle")
        }
        let call: ToolCall
        switch tool.name {
        case ToolCatalog.readResource.name:
            call = .read(uri: try reader.requiredIdentifier("uri", ResourceURI.init(parsing:)))
        case ToolCatalog.listResources.name:
            call = .list(
                collection: try reader.identifier("collection", CollectionName.init(validating:)),
                cursor: try reader.string("cursor", maxLength: 512),
                limit: Int(try reader.integer("limit", range: 1...100) ?? 50)
            )
        case ToolCatalog.searchResources.name:
            let query = TextSanitizer.freeText(try reader.requiredString("query", maxLength: 1024))
            guard (1...256).contains(query.count), query.contains(where: { !$0.isWhitespace }) else {
                throw ArgumentReader.invalid("query", "expected 1-256 characters of text")
            }
            call = .search(
                query: query,
                collection: try reader.identifier("collection", CollectionName.init(validating:)),
                limit: Int(try reader.integer("limit", range: 1...100) ?? 10)
            )
        case ToolCatalog.writeResource.name:
            let uri = try reader.requiredIdentifier("uri", ResourceURI.init(parsing:))
            guard let content = try reader.object("content") else {
                throw ArgumentReader.invalid("content", "required")
            }
            // Control and invisible characters go (tab and newline stay); U+0000 goes with them,
            // which PostgreSQL's jsonb could not store anyway.
            let document = TextSanitizer.document(.object(content))
            guard document.jsonText.utf8.count <= maxDocumentBytes else {
                throw ArgumentReader.invalid("content", "larger than 1 MiB")
            }
            call = .write(
                uri: uri,
                content: document,
                ifVersion: try reader.integer("if_version", range: 0...Int64.max)
            )
        case ToolCatalog.executeQuery.name:
            call = .query(try DocumentQuery(arguments: reader))
        case ToolCatalog.openConversation.name:
            var patterns: [ScopePattern]?
            if let entries = try reader.array("scope", maxCount: 32) {
                guard !entries.isEmpty else { throw ArgumentReader.invalid("scope", "expected at least one pattern") }
                patterns = []
                for entry in entries {
                    guard let text = entry.stringValue else {
                        throw ArgumentReader.invalid("scope", "expected strings")
                    }
                    do { patterns?.append(try ScopePattern(parsing: text)) } catch {
                        throw ArgumentReader.invalid("scope", error.message)
                    }
                }
            }
            let purpose = try reader.string("purpose", maxLength: 800).map(TextSanitizer.freeText)
            if let purpose, purpose.count > 200 {
                throw ArgumentReader.invalid("purpose", "longer than 200 characters")
            }
            call = .openConversation(scope: patterns, purpose: purpose)
        default:
            throw RampartError.invalidArgument("unknown tool")
        }
        return (call, conversation)
    }
}

public enum ConversationHandle {
    /// `^[A-Za-z0-9_-]{16,128}$`, the shape of every session id and handle Rampart mints.
    public static func isWellFormed(_ raw: String) -> Bool {
        (16...128).contains(raw.utf8.count)
            && raw.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
                    || b == 0x2D
            }
    }
}

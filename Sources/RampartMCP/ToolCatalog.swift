import RampartCore

/// A tool Rampart publishes. Definitions are fixed at build time: no tenant text ever reaches a
/// description (tool poisoning), and `tools/list` is filtered by scope, never by call history.
public struct ToolDefinition: Sendable {
    public let name: String
    public let title: String
    public let description: String
    /// Every scope a call needs; empty means any authenticated principal.
    public let requiredScopes: [Scope]
    public let readOnly: Bool
    public let properties: [String: JSONValue]
    public let required: [String]

    public var argumentNames: Set<String> { Set(properties.keys) }

    public var inputSchema: JSONValue {
        [
            "type": "object",
            "properties": .object(properties),
            "required": .array(required.map(JSONValue.string)),
            "additionalProperties": false,
        ]
    }

    public var json: JSONValue {
        [
            "name": .string(name),
            "title": .string(title),
            "description": .string(description),
            "inputSchema": inputSchema,
            "annotations": [
                "title": .string(title),
                "readOnlyHint": .bool(readOnly),
                "destructiveHint": false,
                "idempotentHint": .bool(readOnly),
                "openWorldHint": false,
            ],
        ]
    }
}

public enum ToolCatalog {
    static let uriSchema: JSONValue = [
        "type": "string", "maxLength": 256,
        "pattern": "^tenant://[a-z0-9][a-z0-9-]{0,62}/[a-z][a-z0-9_]{0,62}/[A-Za-z0-9_-]{1,64}$",
        "description": "tenant://{tenant}/{collection}/{id}",
    ]
    static let collectionSchema: JSONValue = ["type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"]
    static let conversationSchema: JSONValue = [
        "type": "string", "pattern": "^[A-Za-z0-9_-]{16,128}$",
        "description": "A handle from open_conversation; without one the call runs in the token's own conversation.",
    ]
    static let fieldSchema: JSONValue = [
        "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}(\\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$",
    ]

    public static let readResource = ToolDefinition(
        name: "read_resource",
        title: "Read a document",
        description: "Read one JSON document by its URI. Returns its content, version and last update time.",
        requiredScopes: [.read],
        readOnly: true,
        properties: ["uri": uriSchema, "conversation": conversationSchema],
        required: ["uri"]
    )

    public static let listResources = ToolDefinition(
        name: "list_resources",
        title: "List documents",
        description: "List document URIs, optionally of one collection, in a stable order. "
            + "Pass nextCursor back as cursor for the next page.",
        requiredScopes: [.read],
        readOnly: true,
        properties: [
            "collection": collectionSchema,
            "cursor": ["type": "string", "maxLength": 512],
            "limit": ["type": "integer", "minimum": 1, "maximum": 100],
            "conversation": conversationSchema,
        ],
        required: []
    )

    public static let searchResources = ToolDefinition(
        name: "search_resources",
        title: "Search documents",
        description: "Full-text search over the documents' text, best match first, with a snippet per hit. "
            + "Supports quoted phrases, OR and -exclusion.",
        requiredScopes: [.search],
        readOnly: true,
        properties: [
            "query": ["type": "string", "minLength": 1, "maxLength": 256],
            "collection": collectionSchema,
            "limit": ["type": "integer", "minimum": 1, "maximum": 100],
            "conversation": conversationSchema,
        ],
        required: ["query"]
    )

    public static let writeResource = ToolDefinition(
        name: "write_resource",
        title: "Write a document",
        description: "Create or replace a JSON document (an object, at most 1 MiB). With if_version the write "
            + "only happens if the stored version matches (0: only if it does not exist yet).",
        requiredScopes: [.write],
        readOnly: false,
        properties: [
            "uri": uriSchema,
            "content": ["type": "object"],
            "if_version": ["type": "integer", "minimum": 0],
            "conversation": conversationSchema,
        ],
        required: ["uri", "content"]
    )

    public static let executeQuery = ToolDefinition(
        name: "execute_query",
        title: "Query a collection",
        description: "Filter, group and aggregate the documents of one collection. Fields are key names or "
            + "dotted paths. Rows are documents ({uri, version, content}) or, when grouping or aggregating, "
            + "one object per group keyed by field and aggregate (count, sum(field), ...).",
        requiredScopes: [.query],
        readOnly: true,
        properties: [
            "collection": collectionSchema,
            "where": [
                "type": "array", "maxItems": 16,
                "items": [
                    "type": "object", "additionalProperties": false, "required": ["field", "op", "value"],
                    "properties": [
                        "field": fieldSchema,
                        "op": ["type": "string", "enum": ["eq", "ne", "lt", "le", "gt", "ge", "contains", "in"]],
                        "value": [:],
                    ],
                ],
            ],
            "group_by": ["type": "array", "maxItems": 4, "items": fieldSchema],
            "aggregate": [
                "type": "array", "maxItems": 8,
                "items": [
                    "type": "object", "additionalProperties": false, "required": ["fn"],
                    "properties": [
                        "fn": ["type": "string", "enum": ["count", "sum", "avg", "min", "max"]], "field": fieldSchema,
                    ],
                ],
            ],
            "order_by": [
                "type": "array", "maxItems": 4,
                "items": [
                    "anyOf": [
                        ["type": "string", "description": "field, or -field for descending"],
                        [
                            "type": "object", "additionalProperties": false, "required": ["field"],
                            "properties": [
                                "field": ["type": "string"], "direction": ["type": "string", "enum": ["asc", "desc"]],
                            ],
                        ],
                    ]
                ],
            ],
            "limit": ["type": "integer", "minimum": 1, "maximum": 1000],
            "conversation": conversationSchema,
        ],
        required: ["collection"]
    )

    public static let openConversation = ToolDefinition(
        name: "open_conversation",
        title: "Open a conversation",
        description:
            "Open a conversation scoped to URI patterns (tenant://{tenant}/*, tenant://{tenant}/{collection}/*, "
            + "or one URI) within your current scope, and get a handle to pass as `conversation` to later calls. "
            + "A handle is bound to you, idles out after the tenant's idle TTL, and can only narrow scope.",
        requiredScopes: [],
        readOnly: false,
        properties: [
            "scope": ["type": "array", "minItems": 1, "maxItems": 32, "items": ["type": "string", "maxLength": 256]],
            "purpose": ["type": "string", "maxLength": 200],
        ],
        required: []
    )

    /// In the order `tools/list` shows them.
    public static let all = [
        readResource, listResources, searchResources, writeResource, executeQuery, openConversation,
    ]

    public static func named(_ name: String) -> ToolDefinition? { all.first { $0.name == name } }

    /// The tools a principal with `scopes` may call.
    public static func visible(to scopes: Set<Scope>) -> [ToolDefinition] {
        all.filter { $0.requiredScopes.allSatisfy(scopes.contains) }
    }
}

import RampartCore

/// What a tool call produced: structured content, or a tool error the model may read.
enum ToolOutcome: Sendable, Equatable {
    case success(JSONValue)
    case failure(String)

    /// The one answer for a URI of another tenant, outside the conversation, or missing.
    static let notFound = ToolOutcome.failure("resource not found")
    static let conversationNotFound = ToolOutcome.failure("conversation not found")
    static let capReached = ToolOutcome.failure(
        "conversation resource limit reached: open a new conversation for other resources"
    )
}

/// PII detection (`rampart admin redact detect`) over what a call returns.
enum Detection {
    /// The value with every detection masked, and its counts as the audit records them.
    static func scan(_ value: JSONValue) -> (value: JSONValue, counts: JSONValue?) {
        let (scanned, found) = PIIDetector().scan(value)
        return (scanned, counts(found))
    }

    static func counts(_ found: [PIIDetector.Kind: Int]) -> JSONValue? {
        guard !found.isEmpty else { return nil }
        return .object(
            Dictionary(uniqueKeysWithValues: found.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) })
        )
    }
}

/// A call refused before it reached the store: the tool error the caller reads, and the reason
/// the audit trail records.
struct ToolRefusal: Error, Sendable {
    let message: String
    let layer: AuditEvent.Layer
    let reason: String
}

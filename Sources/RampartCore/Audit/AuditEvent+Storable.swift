/// Audit events carry text that came from requests (methods, URIs, ids, reasons quoting an
/// argument). PostgreSQL's `text` and `jsonb` cannot hold U+0000, and one event it refuses must
/// never stop the others from being written, so every event is made storable before it is queued
/// or inserted, whatever layer built it.
extension AuditEvent {
    /// Caps in UTF-8 bytes; what is longer is cut at a character boundary and ends with `…`.
    public enum Limits {
        public static let identifier = 128
        public static let resource = 512
        public static let reason = 512
        /// The whole `details` object as JSON text; past it the details are replaced by a marker.
        public static let details = 8192
    }

    /// The event with NUL replaced (U+FFFD) and every field cut to its cap.
    public func storable() -> AuditEvent {
        var event = self
        event.tenant = StorableText.clean(tenant, maxBytes: Limits.identifier)
        event.requestID = StorableText.clean(requestID, maxBytes: Limits.identifier)
        event.subject = subject.map { StorableText.clean($0, maxBytes: 256) }
        event.conversation = conversation.map { StorableText.clean($0, maxBytes: Limits.identifier) }
        event.method = method.map { StorableText.clean($0, maxBytes: Limits.identifier) }
        event.tool = tool.map { StorableText.clean($0, maxBytes: Limits.identifier) }
        event.resource = resource.map { StorableText.clean($0, maxBytes: Limits.resource) }
        event.reason = StorableText.clean(reason, maxBytes: Limits.reason)
        guard !details.isEmpty else { return event }
        let details = StorableText.clean(JSONValue.object(details))
        if JSONWriter.bytes(details).count > Limits.details {
            event.details = ["truncated": true]
        } else {
            event.details = details.objectValue ?? [:]
        }
        return event
    }

    /// What is written when the database refused an event even after `storable()`: who, what
    /// and which decision, nothing taken from the request's free text.
    public func placeholder() -> AuditEvent {
        AuditEvent(
            tenant: tenant,
            requestID: requestID,
            decision: decision,
            layer: layer,
            reason: "audit event could not be stored (placeholder)",
            cost: cost,
            details: ["placeholder": true]
        )
        .storable()
    }
}

/// Text as PostgreSQL can store it.
public enum StorableText {
    /// `text` without U+0000, at most `maxBytes` of UTF-8, cut at a character boundary.
    public static func clean(_ text: String, maxBytes: Int) -> String {
        let needsCut = text.utf8.count > maxBytes
        guard needsCut || text.utf8.contains(0) else { return text }
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        let budget = needsCut ? maxBytes - 3 : maxBytes  // room for "…"
        for scalar in text.unicodeScalars {
            let kept: Unicode.Scalar = scalar == "\u{0}" ? "\u{FFFD}" : scalar
            let size = UTF8.width(kept)
            guard bytes + size <= budget else { break }
            scalars.append(kept)
            bytes += size
        }
        if needsCut { scalars.append("…") }
        return String(scalars)
    }

    /// Every string and key of `value` cleaned (keys and strings each capped at 1 KiB).
    public static func clean(_ value: JSONValue) -> JSONValue {
        guard needsCleaning(value) else { return value }
        return switch value {
        case .string(let text): .string(clean(text, maxBytes: 1024))
        case .array(let elements): .array(elements.map(clean))
        case .object(let members):
            .object(
                Dictionary(
                    members.map { (clean($0.key, maxBytes: 1024), clean($0.value)) },
                    uniquingKeysWith: { first, _ in first }
                )
            )
        default: value
        }
    }
}

extension StorableText {
    private static func needsCleaning(_ text: String) -> Bool {
        text.utf8.count > 1024 || text.utf8.contains(0)
    }

    private static func needsCleaning(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): needsCleaning(text)
        case .array(let elements): elements.contains(where: needsCleaning)
        case .object(let members): members.contains { needsCleaning($0.key) || needsCleaning($0.value) }
        default: false
        }
    }
}

extension JSONValue {
    /// Whether any string or key inside holds U+0000, which PostgreSQL's text and jsonb refuse.
    public var containsNUL: Bool {
        switch self {
        case .string(let text): text.utf8.contains(0)
        case .array(let elements): elements.contains { $0.containsNUL }
        case .object(let members): members.contains { $0.key.utf8.contains(0) || $0.value.containsNUL }
        default: false
        }
    }
}

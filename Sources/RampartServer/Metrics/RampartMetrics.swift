import Metrics
import RampartCore

/// What `/metrics` reports (docs/audit.md lists every series). Label values are always from
/// closed sets — methods, layers, fixed reasons — so a client cannot inflate cardinality.
enum RampartMetrics {
    static let knownMethods: Set<String> = [
        "initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list", "resources/read",
        "resources/templates/list", "notifications/initialized", "notifications/cancelled", "DELETE",
    ]

    static func request(method: String?, status: Int, duration: Duration) {
        let label = method.map { knownMethods.contains($0) ? $0 : "other" } ?? "none"
        Counter(label: "rampart_requests_total", dimensions: [("method", label), ("status", String(status))])
            .increment()
        Timer(label: "rampart_request_duration_seconds", dimensions: [("method", label)])
            .recordNanoseconds(duration.nanoseconds)
    }

    static func audit(_ event: AuditEvent) {
        Counter(
            label: "rampart_audit_events_total",
            dimensions: [("decision", event.decision.rawValue), ("layer", event.layer.rawValue)]
        ).increment()
        if event.decision == .deny {
            Counter(
                label: "rampart_denials_total",
                dimensions: [("layer", event.layer.rawValue), ("reason", reasonLabel(event.reason))]
            ).increment()
        }
        if event.reason == "conversation opened" || event.reason == "session opened" {
            Counter(label: "rampart_conversations_created_total", dimensions: [("tenant", event.tenant)]).increment()
        }
    }

    static func auditDropped() {
        Counter(label: "rampart_audit_dropped_total").increment()
    }

    /// An event the database refused even after sanitizing, written as a placeholder instead.
    static func auditPlaceholder() {
        Counter(label: "rampart_audit_placeholders_total").increment()
    }

    static func auditSealed(_ count: Int) {
        Counter(label: "rampart_audit_sealed_total").increment(by: count)
    }

    /// Fixed reasons (a few plain words) pass as they are; messages about a value are grouped.
    static func reasonLabel(_ reason: String) -> String {
        if reason.hasPrefix("invalid argument") { return "invalid argument" }
        if reason.hasPrefix("Parse error") { return "parse error" }
        if reason.contains("header") { return "header mismatch" }
        let words = reason.split(separator: " ")
        let plain = reason.unicodeScalars.allSatisfy {
            ($0.properties.isAlphabetic && $0.isASCII) || $0 == " " || $0 == "-"
        }
        return words.count <= 6 && plain ? reason.lowercased() : "other"
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

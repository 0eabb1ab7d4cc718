import Metrics
import RampartCore
import Synchronization

/// What `/metrics` reports (docs/audit.md lists every series). Label values are always from
/// closed sets — methods, layers, fixed reasons — so a client cannot inflate cardinality.
enum RampartMetrics {
    static let knownMethods: Set<String> = [
        "initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list", "resources/read",
        "resources/templates/list", "notifications/initialized", "notifications/cancelled", "DELETE",
    ]

    static func request(method: String?, status: Int, duration: Duration) {
        let label = method.map { knownMethods.contains($0) ? $0 : "other" } ?? "none"
        Handles.counter("rampart_requests_total", [("method", label), ("status", String(status))]).increment()
        Handles.timer("rampart_request_duration_seconds", [("method", label)]).recordNanoseconds(duration.nanoseconds)
    }

    static func audit(_ event: AuditEvent) {
        Handles.counter(
            "rampart_audit_events_total",
            [("decision", event.decision.rawValue), ("layer", event.layer.rawValue)]
        ).increment()
        if event.decision == .deny {
            Handles.counter(
                "rampart_denials_total",
                [("layer", event.layer.rawValue), ("reason", reasonLabel(event.reason))]
            ).increment()
        }
        if event.reason == "conversation opened" || event.reason == "session opened" {
            Counter(label: "rampart_conversations_created_total", dimensions: [("tenant", event.tenant)]).increment()
        }
    }

    /// One transaction of coalesced calls (`CallCoalescer`): the mean batch size is the ratio of
    /// the two counters, per operation.
    static func callBatch(operation: String, size: Int) {
        Handles.counter("rampart_call_batches_total", [("operation", operation)]).increment()
        Handles.counter("rampart_call_batched_calls_total", [("operation", operation)]).increment(by: size)
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

/// Metric handles made once per series and kept: making one looks it up in the registry, by
/// label and dimensions, under the registry's lock. The per-tenant series are made as needed.
enum Handles {
    private static let counters = Mutex<[String: Counter]>([:])
    private static let timers = Mutex<[String: Timer]>([:])
    static let maxSeries = 1000

    static func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = series(label, dimensions)
        if let counter = counters.withLock({ $0[key] }) { return counter }
        let counter = Counter(label: label, dimensions: dimensions)
        counters.withLock { if $0.count < maxSeries { $0[key] = counter } }
        return counter
    }

    static func timer(_ label: String, _ dimensions: [(String, String)]) -> Timer {
        let key = series(label, dimensions)
        if let timer = timers.withLock({ $0[key] }) { return timer }
        let timer = Timer(label: label, dimensions: dimensions)
        timers.withLock { if $0.count < maxSeries { $0[key] = timer } }
        return timer
    }

    private static func series(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.reduce(label) { $0 + "\u{1F}" + $1.0 + "=" + $1.1 }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// One audit event (CONTRACT.md §12, docs/audit.md). Never a token, a secret or document
/// content: `details` carries ids, counts, scopes and versions only.
public struct AuditEvent: Sendable, Equatable {
    public enum Decision: String, Sendable { case allow, deny }

    /// The layer that decided (DESIGN.md "The request pipeline").
    public enum Layer: String, Sendable, CaseIterable {
        case auth, context, rate, budget, sanitize, access, execute
    }

    /// Events of requests that never showed a known tenant (no token, a bad one, an unknown
    /// tenant) are kept under this id, which no tenant can have.
    public static let unauthenticatedTenant = "-"

    public var tenant: String
    public var requestID: String
    public var subject: String?
    public var conversation: String?
    public var method: String?
    public var tool: String?
    public var resource: String?
    public var decision: Decision
    public var layer: Layer
    public var reason: String
    public var cost: Int64
    public var details: [String: JSONValue]

    public init(
        tenant: String,
        requestID: String,
        subject: String? = nil,
        conversation: String? = nil,
        method: String? = nil,
        tool: String? = nil,
        resource: String? = nil,
        decision: Decision,
        layer: Layer,
        reason: String,
        cost: Int64 = 0,
        details: [String: JSONValue] = [:]
    ) {
        self.tenant = tenant
        self.requestID = requestID
        self.subject = subject
        self.conversation = conversation
        self.method = method
        self.tool = tool
        self.resource = resource
        self.decision = decision
        self.layer = layer
        self.reason = reason
        self.cost = cost
        self.details = details
    }

    /// The event as one line of the JSON-lines stream, with the time it was recorded.
    public func jsonLine(at timestamp: String) -> String {
        let optional: (String?) -> JSONValue = { $0.map(JSONValue.string) ?? .null }
        let line: JSONValue = [
            "at": .string(timestamp), "request_id": .string(requestID), "tenant": .string(tenant),
            "subject": optional(subject), "conversation": optional(conversation), "method": optional(method),
            "tool": optional(tool), "resource": optional(resource), "decision": .string(decision.rawValue),
            "layer": .string(layer.rawValue), "reason": .string(reason), "cost": .int(cost),
            "details": .object(details),
        ]
        return line.jsonText
    }
}

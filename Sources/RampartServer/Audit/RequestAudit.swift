import RampartCore

/// What every audit event of one request shares: who asked, for what, in which conversation.
/// It fills in as the pipeline learns more (the tenant only after authentication).
struct RequestAudit: Sendable {
    let requestID: String
    var tenant = AuditEvent.unauthenticatedTenant
    var subject: String?
    var conversation: String?
    var method: String?
    var tool: String?
    var resource: String?

    init(requestID: String) {
        self.requestID = requestID
    }

    mutating func authenticated(as principal: Principal) {
        tenant = principal.tenant.rawValue
        subject = principal.subject
    }

    func event(
        _ decision: AuditEvent.Decision,
        _ layer: AuditEvent.Layer,
        _ reason: String,
        resource: String? = nil,
        cost: Int64 = 0,
        details: [String: JSONValue] = [:]
    ) -> AuditEvent {
        AuditEvent(
            tenant: tenant,
            requestID: requestID,
            subject: subject,
            conversation: conversation,
            method: method,
            tool: tool,
            resource: resource ?? self.resource,
            decision: decision,
            layer: layer,
            reason: reason,
            cost: cost,
            details: details
        )
    }

    func allow(_ layer: AuditEvent.Layer, _ reason: String, details: [String: JSONValue] = [:]) -> AuditEvent {
        event(.allow, layer, reason, details: details)
    }

    func deny(_ layer: AuditEvent.Layer, _ reason: String, details: [String: JSONValue] = [:]) -> AuditEvent {
        event(.deny, layer, reason, details: details)
    }
}

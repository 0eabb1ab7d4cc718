import Foundation
import RampartCore

/// Which conversation a call runs in: a handshake-era session, a stateless-era handle, or the
/// token's implicit conversation (opened by its first admitted call).
public struct ConversationKey: Sendable, Hashable {
    public enum Kind: String, Sendable { case session, handle, implicit }

    public let kind: Kind
    public let id: String

    public init(_ kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }
}

/// What every data call carries into its function: who, in which conversation, for what — the
/// call's identity and the fields of its audit event.
public struct CallIdentity: Sendable {
    public let requestID: String
    public let principal: Principal
    /// The JSON-RPC method (`tools/call`, `resources/read`, …) and tool, as audited.
    public let method: String
    public let tool: String?
    /// The operation it is charged as (`rampart admin cost set`).
    public let operation: String
    public let conversation: ConversationKey
    /// The handshake-era session a call naming a handle runs in: checked and touched with it.
    public let session: String?
    /// The token's `rampart_scope` claim, checked and narrowed to the tenant: where a new
    /// implicit conversation starts (nil: the tenant's default scope).
    public let claimedScope: [String]?
    /// Extra audit details the server learned before the call (detection counts).
    public var details: [String: JSONValue]

    public init(
        requestID: String,
        principal: Principal,
        method: String,
        tool: String?,
        operation: String,
        conversation: ConversationKey,
        session: String? = nil,
        claimedScope: [String]?,
        details: [String: JSONValue] = [:]
    ) {
        self.requestID = requestID
        self.principal = principal
        self.method = method
        self.tool = tool
        self.operation = operation
        self.conversation = conversation
        self.session = session
        self.claimedScope = claimedScope
        self.details = details
    }

    /// The members the call functions read (sql/010), plus the operation's own.
    func json(_ arguments: [String: JSONValue]) -> JSONValue {
        var members = arguments
        members["request_id"] = .string(requestID)
        members["issuer"] = .string(principal.issuer)
        members["subject"] = .string(principal.subject)
        members["method"] = .string(method)
        if let tool { members["tool"] = .string(tool) }
        members["operation"] = .string(operation)
        members["conversation"] = ["kind": .string(conversation.kind.rawValue), "id": .string(conversation.id)]
        if let session, conversation.kind != .session { members["session"] = .string(session) }
        members["token_expires_at"] = .int(principal.expiresAt)
        if let claimedScope { members["claimed_scope"] = .array(claimedScope.map(JSONValue.string)) }
        if !details.isEmpty { members["details"] = .object(details) }
        return .object(members)
    }
}

/// How one call ended, as its function decided (and audited) it.
public struct CallAnswer: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case ok
        case conversationNotFound = "conversation_not_found"
        case sessionNotFound = "session_not_found"
        case rateLimited = "rate_limited"
        case budget
        case notFound = "not_found"
        case cap
        case conflict
    }

    public let outcome: Outcome
    /// The conversation, versions, counts, or the refusing limit or budget.
    public let detail: JSONValue
    /// The operation's data: a document, a page, hits, rows (JSON text).
    public let payload: String?

    /// The conversation the call ran in (absent when none was found).
    public var conversation: String? { detail["conversation"]?.stringValue }
}

/// Where the audit events of committed calls go once their transaction is durable: the JSON-lines
/// stream and the metrics (`rampart serve`); their rows are in the database already.
public typealias CommittedEvents = @Sendable ([AuditEvent]) -> Void

extension AuditEvent {
    /// The event a call function audited (its detail's `audit`: sql/010 `call_event`), with who
    /// and what from the call it was given.
    init?(audited: JSONValue?, call: JSONValue, tenant: TenantID) {
        guard let audited, let decision = audited["decision"]?.stringValue.flatMap(Decision.init(rawValue:)),
            let layer = audited["layer"]?.stringValue.flatMap(Layer.init(rawValue:)),
            let reason = audited["reason"]?.stringValue
        else { return nil }
        self.init(
            tenant: tenant.rawValue,
            requestID: call["request_id"]?.stringValue ?? "",
            subject: call["subject"]?.stringValue,
            conversation: audited["conversation"]?.stringValue,
            method: call["method"]?.stringValue,
            tool: call["tool"]?.stringValue,
            resource: audited["resource"]?.stringValue,
            decision: decision,
            layer: layer,
            reason: reason,
            cost: audited["cost"]?.intValue ?? 0,
            details: audited["details"]?.objectValue ?? [:]
        )
    }
}

extension JSONValue {
    /// A call function's detail without its `audit` member, and the event that member holds.
    func splittingAudit(call: JSONValue, tenant: TenantID) -> (detail: JSONValue, event: AuditEvent?) {
        guard case .object(var members) = self, let audited = members.removeValue(forKey: "audit") else {
            return (self, nil)
        }
        return (.object(members), AuditEvent(audited: audited, call: call, tenant: tenant))
    }
}

/// Which budget refused a call, and when it refills.
public struct BudgetRefusal: Error, Sendable, Equatable {
    /// `tenant` or `user`.
    public let budget: String
    /// The next UTC midnight.
    public let resetsAt: Date

    public init(budget: String, resetsAt: Date) {
        self.budget = budget
        self.resetsAt = resetsAt
    }
}

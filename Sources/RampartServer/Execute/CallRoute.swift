import Crypto
import Foundation
import RampartCore
import RampartMCP
import RampartStore
import Synchronization

/// Everything a data call of one request needs besides its arguments: who calls, in which
/// conversation, by when, and how the store's answer becomes a tool result or a refusal.
struct CallRoute: Sendable {
    let principal: Principal
    /// The tenant's settings from the tenant cache (NOTIFY-refreshed): redaction rules, detection.
    let tenant: TenantAccess
    var context: RequestAudit
    /// The handshake-era session of the request, if any.
    let sessionID: String?
    let deadline: ContinuousClock.Instant
    /// Whether a call function answered: it checked the request's session in its own statement.
    let trace = CallTrace()

    /// A handle names the conversation; else the request's session; else the token's own.
    func conversation(handle: String?) -> ConversationKey {
        if let handle { return ConversationKey(.handle, id: handle) }
        if let sessionID { return ConversationKey(.session, id: sessionID) }
        return ConversationKey(.implicit, id: Self.implicitID(of: principal))
    }

    /// `tool`: as audited (nil for the `resources/*` methods).
    func identity(tool: String?, operation: String, handle: String?) -> CallIdentity {
        CallIdentity(
            requestID: context.requestID,
            principal: principal,
            method: context.method ?? "tools/call",
            tool: tool,
            operation: operation,
            conversation: conversation(handle: handle),
            session: sessionID,
            claimedScope: claimedScope
        )
    }

    /// The token's `rampart_scope` claim, parsed and narrowed to the tenant: where a new
    /// conversation starts (nil: the tenant's default scope).
    var claimedScope: [String]? {
        principal.conversationScope.map { patterns in
            patterns.compactMap { try? ScopePattern(parsing: $0) }.filter { $0.tenant == principal.tenant }
                .map(\.description)
        }
    }

    /// The caller's view of a collection under the tenant's redaction rules.
    func redactor(_ collection: String) -> Redactor {
        Redactor(rules: tenant.redactions, collection: collection, scopes: principal.scopes)
    }

    /// The token's implicit conversation: derived from its `jti` (else its hash) and the
    /// principal, so it is stable for the token and unguessable without it.
    static func implicitID(of principal: Principal) -> String {
        let material = "implicit\u{0}\(principal.issuer)\u{0}\(principal.subject)\u{0}\(principal.tokenKey)"
        return Base64URL.encode(SHA256.hash(data: Array(material.utf8)))
    }

    /// The answer of a call that went through: its detail and payload. A refusal becomes the tool
    /// result it is (not found, cap, conflict, an unknown conversation) in `refusal`, or is thrown
    /// (rate limits and budgets: 429; a handshake session gone: 404) — the store audited it already.
    func settle(
        _ answer: CallAnswer,
        in conversation: ConversationKey
    ) throws -> Result<(detail: JSONValue, payload: String?), Refusal> {
        trace.answered()
        switch answer.outcome {
        case .ok: return .success((answer.detail, answer.payload))
        case .notFound: return .failure(Refusal(.notFound))
        case .cap: return .failure(Refusal(.capReached))
        case .conflict:
            let expected = answer.detail["expected"]?.intValue ?? 0
            return .failure(Refusal(.failure("version conflict: the document is not at version \(expected)")))
        case .conversationNotFound:
            if conversation.kind == .session { throw SessionGone() }
            return .failure(Refusal(.conversationNotFound))
        case .sessionNotFound:
            throw SessionGone()
        case .rateLimited:
            throw RateLimited(
                limit: answer.detail["limit"]?.stringValue ?? "tenant",
                retryAfterMs: answer.detail["retry_after_ms"]?.intValue ?? 1000
            )
        case .budget:
            throw BudgetRefusal(
                budget: answer.detail["budget"]?.stringValue ?? "tenant",
                resetsAt: answer.detail["resets_at"]?.stringValue.flatMap(Timestamp.parse) ?? Date()
            )
        }
    }

    /// A tool result that ends a call without data.
    struct Refusal: Error, Sendable {
        let outcome: ToolOutcome
        init(_ outcome: ToolOutcome) { self.outcome = outcome }
    }
}

/// A handshake-era call whose session is gone: 404, as for any other request of that session.
struct SessionGone: Error, Sendable {}

/// Set once a call function answered a request (shared by the copies of its route).
final class CallTrace: Sendable {
    private let flag = Atomic<Bool>(false)

    func answered() { flag.store(true, ordering: .relaxed) }
    var wasAnswered: Bool { flag.load(ordering: .relaxed) }
}

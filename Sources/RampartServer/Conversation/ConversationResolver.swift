import Crypto
import Foundation
import Logging
import PostgresNIO
import RampartCore
import RampartStore

/// Which conversation a call runs in (CONTRACT.md §9): the handshake-era session, a handle from
/// `open_conversation`, or — stateless, without a handle — the token's implicit conversation.
enum ConversationReference: Sendable, Equatable {
    case session(String)
    case handle(String)
    case implicit

    /// A handle names the conversation; else the request's session; else the token's own.
    init(handle: String?, sessionID: String?) {
        self = if let handle { .handle(handle) } else if let sessionID { .session(sessionID) } else { .implicit }
    }

    /// The key of its rate-limit cell. A handle or session id is qualified by the caller: a
    /// conversation is its owner's only, so another principal who learned the id charges a cell
    /// of its own, never the owner's.
    func key(for principal: Principal) -> String {
        switch self {
        case .session(let id), .handle(let id): "\(principal.issuer)\u{1F}\(principal.subject)\u{1F}\(id)"
        case .implicit: ConversationResolver.implicitID(of: principal)
        }
    }
}

/// Finds a call's conversation, or opens one, inside the call's transaction. Every conversation
/// is bound to (tenant, issuer, subject); a new one starts from the token's `rampart_scope`
/// claim, else the tenant's default scope, and counts toward the per-user creation limit.
struct ConversationResolver: Sendable {
    let store: ConversationStore
    let principal: Principal
    /// The tenant's settings as authentication read them (default scope, creation limit).
    let tenant: TenantAccess
    let logger: Logger

    enum Resolution: Sendable {
        case found(ConversationRecord)
        /// Unknown, expired, revoked or another principal's: all answer the same.
        case notFound
    }

    func resolve(_ reference: ConversationReference) async throws -> Resolution {
        switch reference {
        case .session(let id):
            return try await store.touch(.session, id: id).map(Resolution.found) ?? .notFound
        case .handle(let id):
            return try await store.touch(.handle, id: id).map(Resolution.found) ?? .notFound
        case .implicit:
            let id = implicitID
            if let existing = try await store.touch(.implicit, id: id) { return .found(existing) }
            do {
                return .found(try await open(.implicit, id: id, scope: startingScope()))
            } catch is ConversationExists {
                // Another call of the same token opened it first (and has committed: the insert
                // waited for it); use that one.
                return try await store.touch(.implicit, id: id).map(Resolution.found) ?? .notFound
            }
        }
    }

    /// The scope a new conversation of this principal starts from.
    func startingScope() -> [ScopePattern] {
        if let claimed = principal.conversationScope {
            return claimed.compactMap { try? ScopePattern(parsing: $0) }.filter { $0.tenant == principal.tenant }
        }
        let configured = tenant.defaultScope?.compactMap { try? ScopePattern(parsing: $0) }
        return configured?.filter { $0.tenant == principal.tenant } ?? [ScopePattern(tenant: principal.tenant)]
    }

    /// Opens a conversation if the user's creation limit allows; else throws `RateLimited`.
    func open(
        _ kind: ConversationStore.Kind,
        id: String,
        scope: [ScopePattern],
        purpose: String? = nil,
        protocolVersion: String? = nil
    ) async throws -> ConversationRecord {
        let cell = RateCell(
            limit: "conversation_creation",
            key: "conversation_creation:\(principal.issuer)\u{1F}\(principal.subject)",
            perMinute: tenant.conversationsPerUserPerMinute
        )
        if let refusal = try await RateLimitStore.admit(
            [cell],
            tenant: principal.tenant,
            on: store.connection,
            logger: logger
        ) {
            throw RateLimited(limit: refusal.limit, retryAfterMs: refusal.retryAfterMs)
        }
        return try await store.create(
            kind,
            id: id,
            scope: scope.map(\.description),
            purpose: purpose,
            protocolVersion: protocolVersion
        )
    }

    /// The token's implicit conversation: derived from its `jti` (else its hash) and the principal,
    /// so it is stable for the token and unguessable without it.
    var implicitID: String { Self.implicitID(of: principal) }

    static func implicitID(of principal: Principal) -> String {
        let material = "implicit\u{0}\(principal.issuer)\u{0}\(principal.subject)\u{0}\(principal.tokenKey)"
        return Base64URL.encode(SHA256.hash(data: Array(material.utf8)))
    }
}

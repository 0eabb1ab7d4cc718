import RampartCore
import RampartMCP
import RampartStore

/// `open_conversation`: a handle for a conversation bound to the caller, whose scope narrows the
/// one it is opened from (the calling handle's or session's, else the token's starting scope).
struct OpenConversationTool: Sendable {
    let conversations: ConversationStore

    func run(
        scope requested: [ScopePattern]?,
        purpose: String?,
        handle: String?,
        route: CallRoute
    ) async throws -> ToolOutcome {
        let parent = handle != nil || route.sessionID != nil ? route.conversation(handle: handle) : nil
        let opening = ConversationStore.Opening(
            identity: route.identity(
                tool: ToolCatalog.openConversation.name,
                operation: ToolCatalog.openConversation.name,
                handle: handle
            ),
            kind: .handle,
            id: RandomHandle.make(),
            parent: parent,
            scope: requested?.map(\.description),
            purpose: purpose,
            protocolVersion: nil,
            rateLimited: true
        )
        let (outcome, detail) = try await conversations.open(
            opening,
            tenant: route.principal.tenant,
            until: route.deadline
        )
        switch outcome {
        case "ok":
            return .success([
                "conversation": detail["conversation"] ?? .null, "scope": detail["scope"] ?? [],
                "expiresAt": detail["expires_at"] ?? .null,
            ])
        case "widening":
            let pattern = detail["pattern"]?.stringValue ?? ""
            return .failure(
                "invalid argument \"scope\": \(pattern) is outside the current scope; a conversation can only narrow it"
            )
        case "rate_limited":
            throw RateLimited(
                limit: detail["limit"]?.stringValue ?? "conversation_creation",
                retryAfterMs: detail["retry_after_ms"]?.intValue ?? 1000
            )
        default:
            if parent?.kind == .session { throw SessionGone() }
            return .conversationNotFound
        }
    }
}

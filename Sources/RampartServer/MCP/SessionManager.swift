import Logging
import RampartCore
import RampartMCP
import RampartStore

/// Handshake-era sessions, stored in PostgreSQL and bound to (tenant, issuer, subject): any
/// process on the database serves them, and any other principal gets 404 as if they never were.
/// Opening, resuming and ending each is one statement that also writes its audit event.
struct SessionManager: Sendable {
    let conversations: ConversationStore
    let cache: SessionCache
    let route: CallRoute
    let audit: AuditActor
    let logger: Logger

    private func key(_ id: String) -> SessionCache.Key {
        SessionCache.Key(
            tenant: route.principal.tenant,
            issuer: route.principal.issuer,
            subject: route.principal.subject,
            session: id
        )
    }

    private func identity(session id: String) -> CallIdentity {
        CallIdentity(
            requestID: route.context.requestID,
            principal: route.principal,
            method: route.context.method ?? "initialize",
            tool: nil,
            operation: "session",
            conversation: ConversationKey(.session, id: id),
            claimedScope: route.claimedScope
        )
    }

    func initialize(_ request: JSONRPCRequest) async -> MCPReply {
        let requested = request.params["protocolVersion"]?.stringValue ?? ""
        let version =
            ProtocolEra.handshakeVersions.contains(requested) ? requested : ProtocolEra.latestHandshakeVersion
        let id = RandomHandle.make()
        let generation = await cache.generation
        do {
            let (outcome, detail) = try await conversations.open(
                ConversationStore.Opening(
                    identity: identity(session: id),
                    kind: .session,
                    id: id,
                    parent: nil,
                    scope: nil,
                    purpose: nil,
                    protocolVersion: version,
                    rateLimited: false
                ),
                tenant: route.principal.tenant,
                until: route.deadline
            )
            guard outcome == "ok" else {
                return RateLimited(
                    limit: detail["limit"]?.stringValue ?? "conversation_creation",
                    retryAfterMs: detail["retry_after_ms"]?.intValue ?? 1000
                ).reply(id: request.id)
            }
            await cache.remember(key(id), readAt: generation)
            let result: JSONValue = [
                "protocolVersion": .string(version),
                "capabilities": ServerCapabilities.json,
                "serverInfo": ResultShaper.serverInfo,
                "instructions": .string(MCPDispatcher.instructions),
            ]
            var reply = MCPReply.result(request.id, result)
            reply.headers[MCPReply.sessionHeader] = id
            return reply
        } catch {
            return await failure(error, id: request.id)
        }
    }

    /// nil when the session is live (known to this process, or confirmed by the database), else
    /// the reply that ends the request: 404 for any other session, 503 without the database.
    /// `requestID`: the JSON-RPC id the refusal answers (none for a notification).
    func resume(_ id: String, requestID: JSONRPCID?) async -> MCPReply? {
        guard ConversationHandle.isWellFormed(id) else { return await notFound(requestID, audited: false) }
        if await cache.isLive(key(id)) { return nil }
        let generation = await cache.generation
        do {
            guard
                try await conversations.resume(
                    identity(session: id),
                    tenant: route.principal.tenant,
                    until: route.deadline
                )
            else { return await notFound(requestID, audited: true) }
            await cache.remember(key(id), readAt: generation)
            return nil
        } catch {
            return await failure(error, id: requestID)
        }
    }

    /// A data call found the session gone.
    func forget(_ id: String) async { await cache.forget(route.principal.tenant) }

    /// Ends the caller's session: nil when it did, else the reply to send.
    func end(_ id: String) async -> MCPReply? {
        guard ConversationHandle.isWellFormed(id) else { return await notFound(nil, audited: false) }
        await cache.forget(route.principal.tenant)
        do {
            guard
                try await conversations.end(
                    identity(session: id),
                    tenant: route.principal.tenant,
                    until: route.deadline
                )
            else { return await notFound(nil, audited: true) }
            return nil
        } catch {
            return await failure(error, id: nil)
        }
    }

    /// 404, the same for every session the caller may not use; `audited` when the store already
    /// recorded the refusal.
    func notFound(_ id: JSONRPCID?, audited: Bool) async -> MCPReply {
        if !audited { await audit.record(route.context.deny(.context, "session not found")) }
        return MCPReply(status: 404, body: JSONRPCError(.invalidRequest, "Session not found", id: id).body())
    }

    /// 503 when the database is away or the deadline passed (nothing happened), else 500.
    private func failure(_ error: any Error, id: JSONRPCID?) async -> MCPReply {
        DatabaseErrors.log(error, "session store failed", logger: logger)
        guard DatabaseErrors.map(error).code == .unavailable else {
            await audit.record(route.context.deny(.execute, "internal error"))
            return MCPReply(status: 500, body: JSONRPCError(.internalError, "internal error", id: id).body())
        }
        let reason = ContinuousClock.now >= route.deadline ? "deadline exceeded" : "database unavailable"
        await audit.record(route.context.deny(.execute, reason))
        return .unavailable(id: id, requestID: route.context.requestID)
    }
}

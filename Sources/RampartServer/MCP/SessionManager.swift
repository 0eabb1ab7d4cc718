import Logging
import PostgresNIO
import RampartCore
import RampartMCP
import RampartStore

/// Handshake-era sessions, stored in PostgreSQL and bound to (tenant, issuer, subject): any
/// process on the database serves them, and any other principal gets 404 as if they never were.
struct SessionManager: Sendable {
    let database: Database
    let deadline: ContinuousClock.Instant
    let principal: Principal
    let tenant: TenantAccess
    let audit: AuditActor
    let context: RequestAudit
    let logger: Logger

    func initialize(_ request: JSONRPCRequest) async -> MCPReply {
        let requested = request.params["protocolVersion"]?.stringValue ?? ""
        let version =
            ProtocolEra.handshakeVersions.contains(requested) ? requested : ProtocolEra.latestHandshakeVersion
        do {
            let id = RandomHandle.make()
            var opened = context
            opened.conversation = id
            let event = opened.allow(.context, "session opened", details: ["protocol_version": .string(version)])
            let session = try await withStore(recording: event) { store in
                let resolver = ConversationResolver(store: store, principal: principal, tenant: tenant, logger: logger)
                return try await resolver.open(
                    .session,
                    id: id,
                    scope: resolver.startingScope(),
                    protocolVersion: version
                )
            }
            let result: JSONValue = [
                "protocolVersion": .string(version),
                "capabilities": ServerCapabilities.json,
                "serverInfo": ResultShaper.serverInfo,
                "instructions": .string(MCPDispatcher.instructions),
            ]
            var reply = MCPReply.result(request.id, result)
            reply.headers[MCPReply.sessionHeader] = session.id
            return reply
        } catch let error as RateLimited {
            await audit.record(
                context.deny(.rate, "\(error.limit) limit", details: ["retry_after_ms": .int(error.retryAfterMs)])
            )
            return error.reply(id: request.id)
        } catch {
            return await failure(error, id: request.id)
        }
    }

    /// The caller's live session, or the reply that ends the request (404 for any other).
    enum Resumed: Sendable {
        case success(ConversationRecord)
        case failure(MCPReply)
    }

    /// `requestID`: the JSON-RPC id the refusal answers (none for a notification).
    func resume(_ id: String, requestID: JSONRPCID?) async -> Resumed {
        guard ConversationHandle.isWellFormed(id) else { return .failure(await notFound(requestID)) }
        do {
            guard let session = try await withStore(recording: nil, { try await $0.touch(.session, id: id) }) else {
                return .failure(await notFound(requestID))
            }
            return .success(session)
        } catch {
            return .failure(await failure(error, id: requestID))
        }
    }

    /// Ends the caller's session: nil when it did, else the reply to send.
    func end(_ id: String) async -> MCPReply? {
        guard ConversationHandle.isWellFormed(id) else { return await notFound(nil) }
        var ending = context
        ending.conversation = id
        do {
            let ended = try await withStore(recording: ending.allow(.context, "session ended")) { store in
                guard try await store.end(.session, id: id) else { throw SessionNotFound() }
                return true
            }
            return ended ? nil : await notFound(nil)
        } catch is SessionNotFound {
            return await notFound(nil)
        } catch {
            return await failure(error, id: nil)
        }
    }

    /// Runs `body` in a tenant transaction that also writes `event`, so the session change and its
    /// audit record commit together.
    private func withStore<Result: Sendable>(
        recording event: AuditEvent?,
        _ body: @escaping @Sendable (ConversationStore) async throws -> Result
    ) async throws -> Result {
        let result = try await database.withConnection(until: deadline) { connection in
            try await connection.withTenantTransaction(principal.tenant, until: deadline, logger: logger) {
                connection in
                let result = try await body(
                    ConversationStore(connection: connection, principal: principal, logger: logger)
                )
                if let event { try await AuditStore.insert([event], on: connection, logger: logger) }
                return result
            }
        }
        if let event { await audit.committed([event]) }
        return result
    }

    private struct SessionNotFound: Error {}

    private func notFound(_ id: JSONRPCID?) async -> MCPReply {
        await audit.record(context.deny(.context, "session not found"))
        return MCPReply(status: 404, body: JSONRPCError(.invalidRequest, "Session not found", id: id).body())
    }

    /// 503 when the database is away or the deadline passed (nothing happened), else 500.
    private func failure(_ error: any Error, id: JSONRPCID?) async -> MCPReply {
        DatabaseErrors.log(error, "session store failed", logger: logger)
        guard DatabaseErrors.map(error).code == .unavailable else {
            await audit.record(context.deny(.execute, "internal error"))
            return MCPReply(status: 500, body: JSONRPCError(.internalError, "internal error", id: id).body())
        }
        let reason = ContinuousClock.now >= deadline ? "deadline exceeded" : "database unavailable"
        await audit.record(context.deny(.execute, reason))
        return .unavailable(id: id, requestID: context.requestID)
    }
}

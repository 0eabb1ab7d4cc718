import Logging
import PostgresNIO
import RampartCore
import RampartMCP
import RampartStore

/// Handshake-era sessions, stored in PostgreSQL and bound to (tenant, issuer, subject): any
/// process on the database serves them, and any other principal gets 404 as if they never were.
struct SessionManager: Sendable {
    let client: PostgresClient
    let principal: Principal
    let logger: Logger

    func initialize(_ request: JSONRPCRequest) async -> MCPReply {
        let requested = request.params["protocolVersion"]?.stringValue ?? ""
        let version =
            ProtocolEra.handshakeVersions.contains(requested) ? requested : ProtocolEra.latestHandshakeVersion
        let scope = ToolExecutor(client: client, principal: principal, logger: logger, session: nil).startingScope()
        do {
            let session = try await withStore { store in
                try await store.create(
                    .session,
                    id: RandomHandle.make(),
                    scope: scope.map(\.description),
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
        } catch {
            return internalError(error, id: request.id)
        }
    }

    /// The caller's live session, or the reply that ends the request (404 for any other).
    enum Resumed: Sendable {
        case success(ConversationRecord)
        case failure(MCPReply)
    }

    func resume(_ id: String) async -> Resumed {
        guard ConversationHandle.isWellFormed(id) else { return .failure(notFound()) }
        do {
            guard let session = try await withStore({ try await $0.touch(.session, id: id) }) else {
                return .failure(notFound())
            }
            return .success(session)
        } catch {
            return .failure(internalError(error, id: nil))
        }
    }

    /// Ends the caller's session: nil when it did, else the reply to send.
    func end(_ id: String) async -> MCPReply? {
        guard ConversationHandle.isWellFormed(id) else { return notFound() }
        do {
            return try await withStore({ try await $0.end(.session, id: id) }) ? nil : notFound()
        } catch {
            return internalError(error, id: nil)
        }
    }

    private func withStore<Result: Sendable>(
        _ body: @Sendable (ConversationStore) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            try await connection.withTenantTransaction(principal.tenant, logger: logger) { connection in
                try await body(ConversationStore(connection: connection, principal: principal, logger: logger))
            }
        }
    }

    private func notFound() -> MCPReply {
        MCPReply(status: 404, body: JSONRPCError(.invalidRequest, "Session not found").body())
    }

    private func internalError(_ error: any Error, id: JSONRPCID?) -> MCPReply {
        logger.error("session store failed", metadata: ["error": "\(DatabaseErrors.map(error).debugDescription)"])
        return MCPReply(status: 500, body: JSONRPCError(.internalError, "internal error", id: id).body())
    }
}

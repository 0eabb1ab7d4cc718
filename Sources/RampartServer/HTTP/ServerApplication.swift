import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import RampartCore
import RampartMCP
import RampartStore
import ServiceLifecycle

/// Assembles `rampart serve`: the PostgreSQL pool and the HTTP server in one service group, with
/// the database wall checked before the listener opens.
public enum ServerApplication {
    /// How long start-up waits for the database before giving up with a clear error.
    static let startupDatabaseTimeout: Duration = .seconds(15)
    /// `/readyz` answers within 2 s whatever the database does (CONTRACT.md §13).
    static let readinessDeadline: Duration = .milliseconds(1500)
    /// How long a connection may hold a graceful shutdown: past every request's deadline and
    /// grace, so no answer is cut, and short enough to exit within 10 s.
    static let drainLimit: TimeAmount = .milliseconds(8750)

    /// `registry` is the Prometheus registry `MetricsSystem` was bootstrapped with; `/metrics` on
    /// the metrics listener serves it.
    public static func build(
        configuration: ServerConfiguration,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) async throws -> some ApplicationProtocol {
        let migrations = try MigrationCatalog.bundled()
        // Every tool schema's patterns and the detectors compile once, now, not on a request.
        for tool in ToolCatalog.all where !SchemaValidator.precompile(tool.inputSchema) {
            throw RampartError.internal(detail: "the input schema of \(tool.name) has an invalid pattern")
        }
        PIIDetector.precompile()
        // Decided before anything listens: a refusal is the one line start-up prints.
        try await checkDatabaseWall(configuration: configuration, logger: logger)
        logger.info("database wall check passed", metadata: ["rampart.public_url": "\(configuration.publicURL)"])
        let clientConfiguration = configuration.databaseURL.clientConfiguration(
            maxConnections: configuration.poolSize
        )
        let pool = RenewablePool(logger: logger) {
            PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
        }
        let database = Database(pool: pool)

        let router = Router(options: .autoGenerateHeadEndpoints)
        router.get("/healthz") { _, _ in
            Response.json(status: .ok, #"{"status":"ok"}"#)
        }
        router.get("/readyz") { _, context in
            let readiness = await Readiness.check(
                database: database,
                migrations: migrations,
                until: .now + readinessDeadline,
                logger: context.logger
            )
            return readiness.ready
                ? Response.json(status: .ok, #"{"status":"ready"}"#)
                : Response.json(status: .serviceUnavailable, #"{"status":"not ready","reason":"\#(readiness.reason)"}"#)
        }

        let jwks = JWKSKeys(file: configuration.jwksFile, url: configuration.jwksURL, logger: logger)
        try await jwks.load()
        let authState = AuthCache()
        let authenticator = Authenticator(
            verifier: await TokenVerifier(configuration: configuration, jwks: jwks),
            state: authState,
            tenants: TenantDirectory(database: database, logger: logger),
            logger: logger
        )
        let stream = try configuration.auditLog.map { try AuditStream(path: $0) }
        let auditLog = AuditLog(database: database, logger: logger)
        let audit = AuditActor(log: auditLog, stream: stream, logger: logger)
        let calls = CallStore(
            database: database,
            prepared: configuration.preparedStatements,
            logger: logger,
            committed: audit.committed
        )
        let conversations = ConversationStore(calls: calls)
        let sessions = SessionCache()
        let metadata = ProtectedResourceMetadata(configuration: configuration)
        metadata.register(on: router)
        MCPEndpoint(
            configuration: configuration,
            authenticator: authenticator,
            services: MCPServices(
                calls: CoalescedCalls(store: calls, maxBatch: configuration.callBatchMax),
                conversations: conversations,
                audit: audit,
                sessions: sessions,
                tools: ToolListCache()
            ),
            metadataURL: metadata.url
        )
        .register(on: router)

        let cap = ConnectionCap(limit: configuration.httpMaxConnections, logger: logger)
        let app = Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [cap.handler(), ShutdownDrainHandler(limit: drainLimit)],
                    idleTimeout: .seconds(Int64(configuration.httpIdleTimeout))
                )
            ),
            configuration: .init(address: .hostname(configuration.listen.host, port: configuration.listen.port)),
            // Graceful shutdown runs in reverse: the HTTP server stops taking requests first, then
            // the audit service flushes and seals what is left, then the pool closes.
            services: [
                PoolService(pool: pool), AuditService(audit: audit, log: auditLog, logger: logger),
                ChangeListener(
                    databaseURL: configuration.changesDatabaseURL,
                    auth: authState,
                    sessions: sessions,
                    databaseReturned: pool.renew,
                    logger: logger
                ),
                StateSweeper(conversations: conversations, logger: logger), JWKSRefresher(keys: jwks),
                metricsApplication(configuration: configuration, registry: registry, logger: logger),
            ],
            logger: logger
        )
        return app
    }

    /// `GET /metrics` in the Prometheus text format, on its own listener so it can stay off the
    /// public network.
    static func metricsApplication(
        configuration: ServerConfiguration,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router(options: .autoGenerateHeadEndpoints)
        let expected = configuration.metricsToken.map { "Bearer \($0)" }
        router.get("/metrics") { request, _ in
            // The series carry tenant ids: with RAMPART_METRICS_TOKEN set, only its bearer may read them.
            if let expected, !Self.matches(request.headers[.authorization], expected) {
                return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"])
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        var metricsLogger = logger
        metricsLogger[metadataKey: "rampart.listener"] = "metrics"
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.metricsListen.host, port: configuration.metricsListen.port),
                serverName: "rampart-metrics"
            ),
            logger: metricsLogger
        )
    }

    /// Compares a presented credential with the expected one in time independent of where they differ.
    static func matches(_ presented: String?, _ expected: String) -> Bool {
        let (given, wanted) = (Array((presented ?? "").utf8), Array(expected.utf8))
        var difference = UInt8(given.count == wanted.count ? 0 : 1)
        for index in wanted.indices { difference |= wanted[index] ^ (index < given.count ? given[index] : 0) }
        return difference == 0
    }

    /// Refuses start-up unless row-level security binds the server's database role.
    static func checkDatabaseWall(configuration: ServerConfiguration, logger: Logger) async throws {
        let problems = try await withThrowingTaskGroup(of: [String].self) { group in
            group.addTask {
                try await configuration.databaseURL.withConnection(logger: logger) { connection in
                    try await DatabaseWallCheck.problems(on: connection, logger: logger)
                }
            }
            group.addTask {
                try await Task.sleep(for: startupDatabaseTimeout)
                throw RampartError(.unavailable, "cannot reach the database at \(configuration.databaseURL)")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
        guard problems.isEmpty else {
            throw RampartError(.refused, "refusing to start: " + problems.joined(separator: "; "))
        }
    }
}

extension Response {
    static func json(status: HTTPResponse.Status, _ body: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    static func json(status: HTTPResponse.Status, _ body: [UInt8]) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

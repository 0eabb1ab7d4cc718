import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import RampartCore
import RampartServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the MCP server (configuration: RAMPART_* variables, each overridden by its flag)."
    )

    @Flag(help: "Embedded PostgreSQL under .rampart/, demo tenant, dev token (loopback only).")
    var dev = false

    @Option(help: "RAMPART_DATABASE_URL") var databaseUrl: String?
    @Option(help: "RAMPART_ADMIN_DATABASE_URL") var adminDatabaseUrl: String?
    @Option(help: "RAMPART_CHANGES_DATABASE_URL: the change listener's session (behind a transaction-mode pooler)")
    var changesDatabaseUrl: String?
    @Option(help: "RAMPART_LISTEN (host:port)") var listen: String?
    @Option(help: "RAMPART_PUBLIC_URL") var publicUrl: String?
    @Option(help: "RAMPART_AUTH_SERVERS") var authServers: String?
    @Option(help: "RAMPART_JWT_ISSUERS") var jwtIssuers: String?
    @Option(name: .customLong("jwt-hs256-secret"), help: "RAMPART_JWT_HS256_SECRET") var jwtHS256Secret: String?
    @Option(help: "RAMPART_JWKS_FILE") var jwksFile: String?
    @Option(help: "RAMPART_JWKS_URL") var jwksUrl: String?
    @Option(help: "RAMPART_TENANT_CLAIM") var tenantClaim: String?
    @Option(help: "RAMPART_ALLOWED_ORIGINS") var allowedOrigins: String?
    @Option(help: "RAMPART_METRICS_LISTEN") var metricsListen: String?
    @Option(help: "RAMPART_AUDIT_LOG") var auditLog: String?
    @Option(name: .customLong("jwt-hs256-issuers"), help: "RAMPART_JWT_HS256_ISSUERS") var jwtHS256Issuers: String?
    @Option(help: "RAMPART_JWKS_ISSUERS") var jwksIssuers: String?
    @Option(name: .customLong("db-prepared"), help: "RAMPART_DB_PREPARED (on|off)") var dbPrepared: String?
    @Option(name: .customLong("db-pool-size"), help: "RAMPART_DB_POOL_SIZE (connections, default 8)")
    var dbPoolSize: String?
    @Option(name: .customLong("call-batch-max"), help: "RAMPART_CALL_BATCH_MAX (calls per transaction, default 32)")
    var callBatchMax: String?
    @Option(name: .customLong("http-idle-timeout"), help: "RAMPART_HTTP_IDLE_TIMEOUT (seconds, default 60)")
    var httpIdleTimeout: String?
    @Option(
        name: .customLong("http-max-connections"),
        help: "RAMPART_HTTP_MAX_CONNECTIONS (open client connections, default 4096)"
    ) var httpMaxConnections: String?
    @Option(help: "RAMPART_JWT_ISSUER_TENANTS (ISSUER=tenant tenant;ISSUER=*)") var jwtIssuerTenants: String?
    @Option(
        name: .customLong("jwt-hs256-secret-file"),
        help: "RAMPART_JWT_HS256_SECRET_FILE: a file holding the secret"
    ) var jwtHS256SecretFile: String?
    @Option(help: "RAMPART_DATABASE_URL_FILE: a file holding the URL") var databaseUrlFile: String?
    @Option(help: "RAMPART_ADMIN_DATABASE_URL_FILE") var adminDatabaseUrlFile: String?
    @Option(help: "RAMPART_CHANGES_DATABASE_URL_FILE") var changesDatabaseUrlFile: String?
    @Option(help: "RAMPART_METRICS_TOKEN_FILE: a file holding the token /metrics requires") var metricsTokenFile:
        String?

    private var flagValues: [String: String] {
        let pairs: [(String, String?)] = [
            ("RAMPART_DATABASE_URL", databaseUrl), ("RAMPART_ADMIN_DATABASE_URL", adminDatabaseUrl),
            ("RAMPART_CHANGES_DATABASE_URL", changesDatabaseUrl),
            ("RAMPART_CHANGES_DATABASE_URL_FILE", changesDatabaseUrlFile),
            ("RAMPART_LISTEN", listen), ("RAMPART_PUBLIC_URL", publicUrl), ("RAMPART_AUTH_SERVERS", authServers),
            ("RAMPART_JWT_ISSUERS", jwtIssuers), ("RAMPART_JWT_HS256_SECRET", jwtHS256Secret),
            ("RAMPART_JWKS_FILE", jwksFile), ("RAMPART_JWKS_URL", jwksUrl), ("RAMPART_TENANT_CLAIM", tenantClaim),
            ("RAMPART_ALLOWED_ORIGINS", allowedOrigins), ("RAMPART_METRICS_LISTEN", metricsListen),
            ("RAMPART_AUDIT_LOG", auditLog), ("RAMPART_JWT_HS256_ISSUERS", jwtHS256Issuers),
            ("RAMPART_JWKS_ISSUERS", jwksIssuers), ("RAMPART_JWT_ISSUER_TENANTS", jwtIssuerTenants),
            ("RAMPART_DB_PREPARED", dbPrepared),
            ("RAMPART_DB_POOL_SIZE", dbPoolSize), ("RAMPART_CALL_BATCH_MAX", callBatchMax),
            ("RAMPART_HTTP_IDLE_TIMEOUT", httpIdleTimeout), ("RAMPART_HTTP_MAX_CONNECTIONS", httpMaxConnections),
            ("RAMPART_JWT_HS256_SECRET_FILE", jwtHS256SecretFile), ("RAMPART_DATABASE_URL_FILE", databaseUrlFile),
            ("RAMPART_ADMIN_DATABASE_URL_FILE", adminDatabaseUrlFile), ("RAMPART_METRICS_TOKEN_FILE", metricsTokenFile),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    func run() async throws {
        Console.bootstrapLogging()
        let logger = Console.makeLogger(label: "rampart", defaultLevel: .info)
        var values = ProcessInfo.processInfo.environment.merging(flagValues) { _, flag in flag }
        for (key, value) in flagValues.sorted(by: { $0.key < $1.key })
        where SecretFiles.isSecret(key: key, value: value) {
            // The command line of every process is readable by every local user.
            logger.warning(
                "a secret was given as a command-line flag: any local user can read it; use \(key)_FILE instead",
                metadata: ["rampart.key": .string(key)]
            )
        }

        if dev {
            let listenAddress = try HostPort(
                parsing: values["RAMPART_LISTEN"] ?? "127.0.0.1:8080",
                key: "RAMPART_LISTEN"
            )
            guard listenAddress.isLoopback else {
                throw RampartError.configuration(key: "RAMPART_LISTEN", "--dev only listens on a loopback address")
            }
            let environment = DevEnvironment(root: URL(fileURLWithPath: ".rampart"))
            // The dev cluster's settings win over stale ones left in the shell from another cluster.
            values.merge(try await environment.prepare(logger: logger)) { _, dev in dev }
        }

        let configuration = try ServerConfiguration(values: values)
        if dev {
            try await printDevWelcome(configuration)
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let app = try await ServerApplication.build(configuration: configuration, registry: registry, logger: logger)
        do {
            try await app.runService()
        } catch {
            throw mapServeError(error, logger: logger)
        }
    }

    private func printDevWelcome(_ configuration: ServerConfiguration) async throws {
        guard let secret = configuration.hs256Secret else { return }
        let token = try await TokenMinter(hs256Secret: secret).mint(
            .init(
                issuer: DevEnvironment.issuer,
                audience: configuration.publicURL,
                subject: "dev",
                tenant: try TenantID(validating: DevEnvironment.tenant),
                tenantClaim: configuration.tenantClaim,
                scopes: Scope.all.map(\.rawValue),
                lifetime: 86_400
            )
        )
        // Unbuffered, so a script reading the token sees it before the server starts logging.
        FileHandle.standardOutput.write(
            Data(
                """
                Rampart dev server
                  MCP URL:  \(configuration.publicURL)
                  Token:    \(token)
                  CLI:      . .rampart/env && rampart admin tenant list

                """.utf8
            )
        )
    }

    /// Start-up failures become one line; anything unexpected stays generic (details in the log).
    private func mapServeError(_ error: any Error, logger: Logger) -> RampartError {
        if let error = error as? RampartError { return error }
        logger.debug("server stopped with an error", metadata: ["error": "\(String(reflecting: error))"])
        return RampartError(.internal, "the server stopped: \(error)")
    }
}

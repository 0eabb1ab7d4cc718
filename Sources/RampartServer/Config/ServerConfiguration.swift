import Foundation
import RampartCore
import RampartStore

/// `rampart serve`'s configuration (CONTRACT.md §2): environment variables, each overridable by
/// the flag of the same name. Every value is checked here, once, and a bad one stops start-up
/// with a single line naming its key.
public struct ServerConfiguration: Sendable {
    public static let knownKeys: Set<String> = Set(
        [
            "RAMPART_DATABASE_URL", "RAMPART_ADMIN_DATABASE_URL", "RAMPART_LISTEN", "RAMPART_PUBLIC_URL",
            "RAMPART_AUTH_SERVERS", "RAMPART_JWT_ISSUERS", "RAMPART_JWT_HS256_SECRET", "RAMPART_JWKS_FILE",
            "RAMPART_JWKS_URL", "RAMPART_TENANT_CLAIM", "RAMPART_ALLOWED_ORIGINS", "RAMPART_METRICS_LISTEN",
            "RAMPART_AUDIT_LOG", "RAMPART_JWT_HS256_ISSUERS", "RAMPART_JWKS_ISSUERS", "RAMPART_JWT_ISSUER_TENANTS",
            "RAMPART_METRICS_TOKEN", "RAMPART_DB_PREPARED", "RAMPART_DB_POOL_SIZE", "RAMPART_CALL_BATCH_MAX",
            "RAMPART_HTTP_IDLE_TIMEOUT", "RAMPART_HTTP_MAX_CONNECTIONS", "RAMPART_CHANGES_DATABASE_URL",
        ] + SecretFiles.secretKeys.map { $0 + "_FILE" }
    )

    public let databaseURL: DatabaseURL
    public let adminDatabaseURL: DatabaseURL?
    /// The session the change listener holds (`RAMPART_CHANGES_DATABASE_URL`): LISTEN needs a
    /// connection of its own, which a transaction-mode pooler cannot give; by default the pool's.
    public let changesDatabaseURL: DatabaseURL
    public let listen: HostPort
    /// The canonical MCP endpoint URL: the token audience and the PRM `resource`.
    public let publicURL: String
    public let authorizationServers: [String]
    public let jwtIssuers: [String]
    public let hs256Secret: String?
    public let jwksFile: String?
    public let jwksURL: String?
    public let tenantClaim: String
    public let allowedOrigins: [String]
    public let allowedHosts: HostAllowlist
    public let metricsListen: HostPort
    /// When set, `/metrics` answers only requests bearing it (`Authorization: Bearer …`).
    public let metricsToken: String?
    public let auditLog: String?
    public let issuerBindings: IssuerBindings
    /// Protocol-level prepared statements (`RAMPART_DB_PREPARED`, CONTRACT.md §14): off behind a
    /// transaction-mode pooler that cannot carry them.
    public let preparedStatements: Bool
    /// Connections to PostgreSQL per process (`RAMPART_DB_POOL_SIZE`). Every call is one
    /// statement that holds its connection until its commit is durable, so a few connections a
    /// database core keep the database busy; more only add contention.
    public let poolSize: Int
    /// Calls of one tenant and operation run together in one transaction at most
    /// (`RAMPART_CALL_BATCH_MAX`, docs/limits.md "A busy tenant"); 1 turns coalescing off.
    public let callBatchMax: Int
    /// Seconds a client connection may sit without a request (a half-sent header included)
    /// before it is closed (`RAMPART_HTTP_IDLE_TIMEOUT`).
    public let httpIdleTimeout: Int
    /// Client connections the MCP listener holds open at once; more are closed on accept
    /// (`RAMPART_HTTP_MAX_CONNECTIONS`).
    public let httpMaxConnections: Int

    /// Reads the configuration from `values` (the environment merged with flags).
    public init(values raw: [String: String]) throws(RampartError) {
        for key in raw.keys.sorted() where key.hasPrefix("RAMPART_") && !Self.knownKeys.contains(key) {
            throw .configuration(key: key, "unknown configuration key")
        }
        let values = try SecretFiles.resolve(raw)
        func value(_ key: String) -> String? {
            guard let raw = values[key]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }

        guard let database = value("RAMPART_DATABASE_URL") else {
            throw .configuration(key: "RAMPART_DATABASE_URL", "required (or use --dev)")
        }
        databaseURL = try DatabaseURL(parsing: database, key: "RAMPART_DATABASE_URL")
        adminDatabaseURL = try value("RAMPART_ADMIN_DATABASE_URL").map { raw throws(RampartError) in
            try DatabaseURL(parsing: raw, key: "RAMPART_ADMIN_DATABASE_URL")
        }
        changesDatabaseURL =
            try value("RAMPART_CHANGES_DATABASE_URL").map { raw throws(RampartError) in
                try DatabaseURL(parsing: raw, key: "RAMPART_CHANGES_DATABASE_URL")
            } ?? databaseURL
        listen = try HostPort(parsing: value("RAMPART_LISTEN") ?? "127.0.0.1:8080", key: "RAMPART_LISTEN")
        metricsListen = try HostPort(
            parsing: value("RAMPART_METRICS_LISTEN") ?? "127.0.0.1:9464",
            key: "RAMPART_METRICS_LISTEN"
        )

        let publicURL = value("RAMPART_PUBLIC_URL") ?? "http://\(listen)/mcp"
        guard let origin = Self.origin(of: publicURL) else {
            throw .configuration(key: "RAMPART_PUBLIC_URL", "expected an http:// or https:// URL with a host")
        }
        self.publicURL = publicURL
        allowedHosts = HostAllowlist(listen: listen, publicURL: publicURL)

        jwtIssuers = Self.list(value("RAMPART_JWT_ISSUERS"))
        guard !jwtIssuers.isEmpty else {
            throw .configuration(key: "RAMPART_JWT_ISSUERS", "required: the accepted token issuers, comma-separated")
        }
        let authorizationServers = Self.list(value("RAMPART_AUTH_SERVERS"))
        self.authorizationServers = authorizationServers.isEmpty ? jwtIssuers : authorizationServers

        hs256Secret = value("RAMPART_JWT_HS256_SECRET")
        if let secret = hs256Secret, secret.utf8.count < 32 {
            throw .configuration(key: "RAMPART_JWT_HS256_SECRET", "must be at least 32 bytes")
        }
        jwksFile = value("RAMPART_JWKS_FILE")
        if let file = jwksFile, !FileManager.default.isReadableFile(atPath: file) {
            throw .configuration(key: "RAMPART_JWKS_FILE", "cannot read the file")
        }
        jwksURL = value("RAMPART_JWKS_URL")
        if let url = jwksURL {
            guard let origin = Self.origin(of: url), let host = URLComponents(string: url)?.host else {
                throw .configuration(key: "RAMPART_JWKS_URL", "expected an https:// URL with a host")
            }
            // Over plain HTTP a network attacker could swap the keys and mint tokens for any tenant.
            guard origin.hasPrefix("https://") || HostPort(host: host, port: 0).isLoopback else {
                throw .configuration(key: "RAMPART_JWKS_URL", "must be https:// (http:// only for a loopback host)")
            }
        }
        guard hs256Secret != nil || jwksFile != nil || jwksURL != nil else {
            throw .configuration(
                key: "RAMPART_JWT_HS256_SECRET",
                "no token key configured: set it, RAMPART_JWKS_FILE or RAMPART_JWKS_URL"
            )
        }

        tenantClaim = value("RAMPART_TENANT_CLAIM") ?? "tenant_id"
        guard tenantClaim.utf8.count <= 128,
            tenantClaim.unicodeScalars.allSatisfy({
                ($0.properties.isAlphabetic && $0.isASCII) || ("0"..."9").contains($0)
                    || "_.:/-".unicodeScalars.contains($0)
            })
        else {
            throw .configuration(key: "RAMPART_TENANT_CLAIM", "use letters, digits and _ . : / -")
        }

        let origins = Self.list(value("RAMPART_ALLOWED_ORIGINS"))
        for candidate in origins where Self.origin(of: candidate) != candidate {
            throw .configuration(
                key: "RAMPART_ALLOWED_ORIGINS",
                "each entry must be an origin such as https://app.example.com"
            )
        }
        allowedOrigins = origins.isEmpty ? [origin] : origins
        auditLog = value("RAMPART_AUDIT_LOG")
        metricsToken = value("RAMPART_METRICS_TOKEN")
        if let token = metricsToken, token.utf8.count < 16 {
            throw .configuration(key: "RAMPART_METRICS_TOKEN", "must be at least 16 bytes")
        }
        switch value("RAMPART_DB_PREPARED")?.lowercased() {
        case nil, "on": preparedStatements = true
        case "off": preparedStatements = false
        default: throw .configuration(key: "RAMPART_DB_PREPARED", "use on or off")
        }
        func wholeNumber(_ key: String, _ range: ClosedRange<Int>, default fallback: Int) throws(RampartError) -> Int {
            guard let raw = value(key) else { return fallback }
            guard let number = Int(raw), range.contains(number) else {
                throw .configuration(key: key, "use a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return number
        }
        poolSize = try wholeNumber("RAMPART_DB_POOL_SIZE", 1...256, default: 8)
        callBatchMax = try wholeNumber("RAMPART_CALL_BATCH_MAX", 1...256, default: 32)
        httpIdleTimeout = try wholeNumber("RAMPART_HTTP_IDLE_TIMEOUT", 1...3600, default: 60)
        httpMaxConnections = try wholeNumber("RAMPART_HTTP_MAX_CONNECTIONS", 1...1_000_000, default: 4096)
        issuerBindings = try IssuerBindings(
            issuers: jwtIssuers,
            hasHS256: hs256Secret != nil,
            hasJWKS: jwksFile != nil || jwksURL != nil,
            value: value
        )
    }

    /// `scheme://host[:port]` of an http(s) URL, or nil when it is not one.
    static func origin(of raw: String) -> String? {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            components.user == nil, components.query == nil, components.fragment == nil
        else { return nil }
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return components.port.map { "\(scheme)://\(hostPart):\($0)" } ?? "\(scheme)://\(hostPart)"
    }

    static func list(_ raw: String?) -> [String] {
        (raw ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

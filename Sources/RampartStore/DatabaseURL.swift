import Foundation
import NIOSSL
import PostgresNIO
import RampartCore

/// A `postgres://user:password@host:port/database?sslmode=…` URL, parsed once at start-up.
///
/// `sslmode` may be `disable`, `prefer` (default) or `require`; `host=/path/to/socket/dir` selects
/// a Unix socket as libpq does.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let username: String
    public let password: String?
    public let database: String
    public let unixSocketDirectory: String?
    public let sslMode: String

    /// Parses `raw`; errors name `key`, the configuration key the URL came from, and never echo the password.
    public init(parsing raw: String, key: String) throws(RampartError) {
        guard let components = URLComponents(string: raw),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw .configuration(key: key, "not a postgres:// URL")
        }
        guard let user = components.user, !user.isEmpty else {
            throw .configuration(key: key, "the URL names no user")
        }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else {
            throw .configuration(key: key, "the URL names no database")
        }
        database = path
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )
        for name in query.keys where name != "sslmode" && name != "host" {
            throw .configuration(key: key, "unknown URL parameter \(name)")
        }
        sslMode = query["sslmode"] ?? "prefer"
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw .configuration(key: key, "sslmode must be disable, prefer or require")
        }
        unixSocketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        host = components.host ?? "127.0.0.1"
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw .configuration(key: key, "port out of range") }
    }

    public var description: String {
        "postgres://\(username)@\(unixSocketDirectory ?? host):\(port)/\(database)"
    }

    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch sslMode {
        case "disable": .disable
        case "require": .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
    }

    private var clientTLS: PostgresClient.Configuration.TLS {
        switch sslMode {
        case "disable": .disable
        case "require": .require(.makeClientConfiguration())
        default: .prefer(.makeClientConfiguration())
        }
    }

    /// The socket file libpq would use for `host=/dir`.
    private var unixSocketPath: String? {
        unixSocketDirectory.map { "\($0)/.s.PGSQL.\(port)" }
    }

    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let unixSocketPath {
            return .init(
                unixSocketPath: unixSocketPath,
                username: username,
                password: password,
                database: database
            )
        }
        return .init(
            host: host,
            port: port,
            username: username,
            password: password,
            database: database,
            tls: try connectionTLS()
        )
    }

    public func clientConfiguration(maxConnections: Int) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let unixSocketPath {
            configuration = .init(
                unixSocketPath: unixSocketPath,
                username: username,
                password: password,
                database: database
            )
        } else {
            configuration = .init(
                host: host,
                port: port,
                username: username,
                password: password,
                database: database,
                tls: clientTLS
            )
        }
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }

    /// Opens one connection, runs `body`, and closes it whatever happens.
    public func withConnection<R: Sendable>(
        logger: Logger,
        _ body: (PostgresConnection) async throws -> R
    ) async throws -> R {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try connectionConfiguration(),
                id: 1,
                logger: logger
            )
        } catch {
            throw DatabaseErrors.map(error)
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

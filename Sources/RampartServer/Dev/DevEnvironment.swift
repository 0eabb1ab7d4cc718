import Foundation
import Logging
import RampartCore
import RampartStore

/// `rampart serve --dev`: an embedded PostgreSQL cluster under `.rampart/`, migrated, with the
/// demo tenant and its sample documents, a generated HS256 secret, and the settings to reach it
/// all written to `.rampart/env` for the CLI.
public struct DevEnvironment: Sendable {
    public static let issuer = "rampart-dev"
    public static let tenant = "demo"
    static let database = "rampart"

    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    /// Starts (creating on first use) the cluster and returns the configuration values it provides.
    public func prepare(logger: Logger) async throws -> [String: String] {
        let cluster = try EmbeddedCluster(root: root)
        let port = try cluster.start()
        func url(_ role: String, _ database: String = Self.database) -> String {
            "postgres://\(role)@localhost:\(port)/\(database)?host=\(cluster.socketDirectory)&sslmode=disable"
        }
        try await DatabaseURL(parsing: url("postgres", "postgres"), key: "--dev").withConnection(logger: logger) {
            try await DevBootstrap.ensureDatabase(Self.database, on: $0, logger: logger)
        }
        try await DatabaseURL(parsing: url("postgres"), key: "--dev").withConnection(logger: logger) { connection in
            try await Migrator(migrations: try MigrationCatalog.bundled()).migrate(on: connection, logger: logger)
            try await DevBootstrap.ensureLoginRoles(on: connection, logger: logger)
        }
        try await DatabaseURL(parsing: url(DevBootstrap.adminRole), key: "--dev").withConnection(logger: logger) {
            try await DemoTenant.provision(ProvisioningStore(connection: $0, logger: logger))
        }

        let values = [
            "RAMPART_DATABASE_URL": url(DevBootstrap.serverRole),
            "RAMPART_ADMIN_DATABASE_URL": url(DevBootstrap.adminRole),
            "RAMPART_JWT_ISSUERS": Self.issuer,
            "RAMPART_JWT_HS256_SECRET": try secret(),
        ]
        try writeEnvironmentFile(values)
        return values
    }

    /// The dev HS256 secret, generated once and kept in `.rampart/hs256.secret` (mode 0600).
    func secret() throws(RampartError) -> String {
        let file = root.appendingPathComponent("hs256.secret")
        if let existing = try? String(contentsOf: file, encoding: .utf8) {
            let trimmed = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.utf8.count >= 32 { return trimmed }
        }
        var generator = SystemRandomNumberGenerator()
        let secret = Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try writePrivateFile(file, secret)
        return secret
    }

    private func writeEnvironmentFile(_ values: [String: String]) throws(RampartError) {
        let lines = values.sorted { $0.key < $1.key }.map { "export \($0.key)='\($0.value)'" }
        let text =
            "# Written by rampart serve --dev: `. .rampart/env` points the CLI at the dev cluster.\n"
            + lines.joined(separator: "\n") + "\n"
        let file = root.appendingPathComponent("env")
        try writePrivateFile(file, text)
    }

    /// Secrets and connection settings are readable by their owner only.
    private func writePrivateFile(_ file: URL, _ text: String) throws(RampartError) {
        guard
            FileManager.default.createFile(
                atPath: file.path,
                contents: Data(text.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else {
            throw RampartError(.unavailable, "cannot write \(file.path)")
        }
    }
}

import Crypto
import Foundation
import RampartCore

/// One numbered SQL file from `sql/` (shipped inside the binary as a resource).
public struct Migration: Sendable, Hashable {
    public let version: Int
    /// The file name, such as `002_tenant_tables.sql`.
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, hex.
    public let checksum: String

    public init(name: String, contents: Data) throws(RampartError) {
        guard name.hasSuffix(".sql"), let prefix = name.split(separator: "_").first, prefix.count == 3,
            let version = Int(prefix), version > 0
        else {
            throw .init(.internal, "migration file \(name) is not named NNN_description.sql")
        }
        guard let sql = String(data: contents, encoding: .utf8) else {
            throw .init(.internal, "migration file \(name) is not UTF-8")
        }
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = Hex.encode(SHA256.hash(data: contents))
    }
}

/// The migrations this build of Rampart knows, in order.
public enum MigrationCatalog {
    /// The files bundled from `sql/` at build time.
    public static func bundled() throws(RampartError) -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw .internal(detail: "the Migrations resource is missing from the bundle")
        }
        return try load(from: directory)
    }

    public static func load(from directory: URL) throws(RampartError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .internal(detail: "cannot list \(directory.path): \(error)")
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard let contents = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path)
            else {
                throw .internal(detail: "cannot read migration \(name)")
            }
            migrations.append(try Migration(name: name, contents: contents))
        }
        guard Set(migrations.map(\.version)).count == migrations.count else {
            throw .internal(detail: "two migration files share a version number")
        }
        return migrations
    }
}

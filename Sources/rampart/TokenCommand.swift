import ArgumentParser
import Foundation
import RampartCore
import RampartServer

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint development tokens.",
        subcommands: [Mint.self]
    )

    struct Mint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint an HS256 token signed with RAMPART_JWT_HS256_SECRET."
        )
        @Option var tenant: String
        @Option var sub: String
        @Option(help: "Space-separated scopes (default: the four resources:* scopes).") var scope: String?
        @Option(help: "Lifetime in seconds.") var ttl: Int = 3600
        @Option(help: "Audience (default: RAMPART_PUBLIC_URL, else http://RAMPART_LISTEN/mcp).") var audience: String?
        @Option(help: "Issuer (default: the first of RAMPART_JWT_ISSUERS).") var issuer: String?
        @Option(name: .customLong("claim"), help: "Extra claim key=value (value parsed as JSON when it is JSON).")
        var claims: [String] = []
        @Flag var json = false

        func run() async throws {
            let environment = try SecretFiles.resolve(ProcessInfo.processInfo.environment)
            guard let secret = environment["RAMPART_JWT_HS256_SECRET"], !secret.isEmpty else {
                throw RampartError.configuration(key: "RAMPART_JWT_HS256_SECRET", "required to mint tokens")
            }
            let minter = try TokenMinter(hs256Secret: secret)
            guard
                let issuer = issuer ?? environment["RAMPART_JWT_ISSUERS"]?.split(separator: ",").first.map(String.init)
            else {
                throw RampartError.configuration(key: "RAMPART_JWT_ISSUERS", "required (or pass --issuer)")
            }
            let audience =
                audience ?? environment["RAMPART_PUBLIC_URL"]
                ?? "http://\(environment["RAMPART_LISTEN"] ?? "127.0.0.1:8080")/mcp"
            let scopes =
                scope.map { $0.split(separator: " ").map(String.init) }
                ?? [Scope.read, .search, .write, .query].map(\.rawValue)
            let token = try await minter.mint(
                .init(
                    issuer: issuer,
                    audience: audience,
                    subject: sub,
                    tenant: try TenantID(validating: tenant),
                    tenantClaim: environment["RAMPART_TENANT_CLAIM"] ?? "tenant_id",
                    scopes: scopes,
                    lifetime: ttl,
                    extraClaims: try parsedClaims()
                )
            )
            if json { return try Console.printJSON(["token": token]) }
            print(token)
        }

        private func parsedClaims() throws(RampartError) -> [String: JSONValue] {
            var parsed: [String: JSONValue] = [:]
            for claim in claims {
                guard let equals = claim.firstIndex(of: "="), equals != claim.startIndex else {
                    throw .invalidArgument("--claim takes key=value, got \"\(claim.prefix(64))\"")
                }
                let raw = String(claim[claim.index(after: equals)...])
                parsed[String(claim[..<equals])] =
                    (try? JSONDecoder().decode(JSONValue.self, from: Data(raw.utf8))) ?? .string(raw)
            }
            return parsed
        }
    }
}

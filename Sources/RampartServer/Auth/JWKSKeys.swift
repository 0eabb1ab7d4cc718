import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import RampartCore

/// The RS256 / ES256 / EdDSA keys of a JWKS file or URL.
///
/// A URL is fetched at start-up, again on a timer (its `Cache-Control: max-age`, held within
/// `refreshBounds`; `defaultRefresh` without one) so a key the issuer withdrew after a compromise
/// stops being trusted, and again when a token names an unknown `kid` — at most once per
/// `unknownKidInterval`, so a flood of made-up kids cannot turn the server into a traffic
/// amplifier against the key server. Every fetch replaces the whole key set. Fetches follow no
/// redirect and read at most `maxBytes`; the configuration allows only https (http for loopback).
actor JWKSKeys {
    static let unknownKidInterval: Duration = .seconds(30)
    static let refreshBounds: ClosedRange<Int64> = 10...3600
    static let defaultRefresh: Int64 = 300
    static let maxBytes = 1 << 20
    static let fetchTimeout: TimeAmount = .seconds(5)

    private let file: String?
    private let url: String?
    private let logger: Logger
    private let http: HTTPClient?
    private var keys = JWTKeyCollection()
    private var kids: Set<String> = []
    private var lastFetch: ContinuousClock.Instant?
    /// When the timer fetches next.
    private(set) var nextRefresh: ContinuousClock.Instant?

    init(file: String?, url: String?, logger: Logger) {
        self.file = file
        self.url = url
        self.logger = logger
        http =
            url == nil
            ? nil
            : HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(
                    redirectConfiguration: .disallow,
                    timeout: .init(connect: Self.fetchTimeout, read: Self.fetchTimeout)
                )
            )
    }

    var isConfigured: Bool { file != nil || url != nil }

    /// Loads the file (an error stops start-up) or makes the first fetch of the URL (a failure
    /// is logged; tokens are refused until a later fetch succeeds).
    func load() async throws {
        if let file {
            let json: String
            do { json = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw RampartError.configuration(key: "RAMPART_JWKS_FILE", "cannot read the file")
            }
            do { try await install(json) } catch {
                throw RampartError.configuration(key: "RAMPART_JWKS_FILE", "not a valid JWKS document")
            }
        } else if url != nil {
            await refresh()
        }
    }

    /// The key a token's header names, if it is one of ours; `alg` must be the key's algorithm.
    func algorithm(kid: String?, alg: String) async -> (any JWTAlgorithm)? {
        if let kid, !kids.contains(kid) {
            guard url != nil, lastFetch.map({ ContinuousClock.now - $0 >= Self.unknownKidInterval }) ?? true else {
                return nil
            }
            await refresh()
            guard kids.contains(kid) else { return nil }
        }
        guard kid != nil || kids.count == 1 else { return nil }
        let identifier = (kid ?? kids.first).map { JWKIdentifier(string: $0) }
        guard let key = try? await keys.getKey(for: identifier, alg: alg), key.name == alg else { return nil }
        return key
    }

    /// Fetches the URL and installs its keys; on failure the current keys stay and the timer
    /// tries again after the shortest interval.
    func refresh() async {
        guard let url, let http else { return }
        lastFetch = .now
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await http.execute(request, timeout: Self.fetchTimeout)
            guard response.status == .ok else {
                throw RampartError(.unavailable, "the JWKS URL answered \(response.status.code)")
            }
            let body = try await response.body.collect(upTo: Self.maxBytes)
            try await install(String(buffer: body))
            let seconds = Self.maxAge(response.headers["Cache-Control"].first) ?? Self.defaultRefresh
            nextRefresh =
                .now + .seconds(min(max(seconds, Self.refreshBounds.lowerBound), Self.refreshBounds.upperBound))
            logger.info("JWKS loaded", metadata: ["rampart.jwks_keys": "\(kids.count)"])
        } catch {
            nextRefresh = .now + .seconds(Self.refreshBounds.lowerBound)
            logger.warning("JWKS fetch failed", metadata: ["error": "\(error)"])
        }
    }

    /// `max-age` of a Cache-Control header; `no-cache` and `no-store` ask for the shortest.
    static func maxAge(_ header: String?) -> Int64? {
        guard let header else { return nil }
        for directive in header.lowercased().split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            switch parts.first {
            case "no-cache", "no-store": return 0
            case "max-age" where parts.count == 2: return Int64(parts[1].trimmingCharacters(in: .whitespaces))
            default: continue
            }
        }
        return nil
    }

    func shutdown() async {
        try? await http?.shutdown()
    }

    private func install(_ json: String) async throws {
        let document = try JSONParser.parse(json, maxDepth: 8)
        let fresh = JWTKeyCollection()
        var freshKids: Set<String> = []
        for entry in document["keys"]?.arrayValue ?? [] {
            guard let kid = entry["kid"]?.stringValue else { continue }
            let jwk = try JSONDecoder().decode(JWK.self, from: Data(entry.jsonText.utf8))
            try await fresh.add(jwk: jwk)
            freshKids.insert(kid)
        }
        keys = fresh
        kids = freshKids
    }
}

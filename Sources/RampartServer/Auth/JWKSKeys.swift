import Foundation
import JWTKit
import Logging
import RampartCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The RS256 / ES256 / EdDSA keys of a JWKS file or URL. A URL is fetched on start and again
/// when a token names an unknown `kid`, at most once per `refreshInterval`, so a flood of
/// made-up `kid`s cannot turn the server into a traffic amplifier against the key server.
actor JWKSKeys {
    static let refreshInterval: Duration = .seconds(30)

    private let file: String?
    private let url: URL?
    private let logger: Logger
    private var keys = JWTKeyCollection()
    private var kids: Set<String> = []
    private var lastFetch: ContinuousClock.Instant?

    init(file: String?, url: String?, logger: Logger) {
        self.file = file
        self.url = url.flatMap(URL.init(string:))
        self.logger = logger
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
            guard url != nil, lastFetch.map({ ContinuousClock.now - $0 >= Self.refreshInterval }) ?? true else {
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

    private func refresh() async {
        guard let url else { return }
        lastFetch = .now
        do {
            var request = URLRequest(url: url, timeoutInterval: 5)
            request.setValue("application/json", forHTTPHeaderField: "Accept")
            let (data, response) = try await URLSession.shared.data(for: request)
            guard (response as? HTTPURLResponse)?.statusCode == 200, data.count <= 1 << 20 else {
                throw RampartError(.unavailable, "JWKS fetch answered with an error")
            }
            try await install(String(decoding: data, as: UTF8.self))
            logger.info("JWKS loaded", metadata: ["rampart.jwks_keys": "\(kids.count)"])
        } catch {
            logger.warning("JWKS fetch failed", metadata: ["error": "\(error)"])
        }
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

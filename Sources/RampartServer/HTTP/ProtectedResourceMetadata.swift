import Foundation
import Hummingbird
import RampartCore

/// RFC 9728 Protected Resource Metadata (A2, A3): published at the root and the path form of the
/// well-known URI, and named in every 401 challenge.
struct ProtectedResourceMetadata: Sendable {
    static let wellKnownPrefix = "/.well-known/oauth-protected-resource"

    let document: String
    /// The path-form URL: the well-known prefix inserted before the MCP endpoint's path.
    let url: String

    init(configuration: ServerConfiguration) {
        let publicURL = configuration.publicURL
        let origin = ServerConfiguration.origin(of: publicURL) ?? publicURL
        let path = URLComponents(string: publicURL)?.path ?? ""
        url = origin + Self.wellKnownPrefix + (path == "/" ? "" : path)
        let metadata: JSONValue = [
            "resource": .string(publicURL),
            "authorization_servers": .array(configuration.authorizationServers.map(JSONValue.string)),
            "scopes_supported": .array(Scope.all.map { .string($0.rawValue) }),
            "bearer_methods_supported": ["header"],
            "resource_name": "Rampart",
        ]
        document = metadata.jsonText
    }

    func register(on router: Router<BasicRequestContext>) {
        let document = document
        router.get(RouterPath(stringLiteral: Self.wellKnownPrefix)) { _, _ in Response.json(status: .ok, document) }
        router.get(RouterPath(stringLiteral: Self.wellKnownPrefix + "/mcp")) { _, _ in
            Response.json(status: .ok, document)
        }
    }
}

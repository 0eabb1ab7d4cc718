import Foundation

/// Which `Host` headers `/mcp` answers (docs/protocol.md, "DNS rebinding"). On a loopback
/// listener, a page the browser loaded from an attacker's name that now resolves to 127.0.0.1
/// sends that name as `Host`: only loopback names and the public URL's host are answered there.
/// Other listeners sit behind load balancers and proxies whose names the server cannot know, and
/// are reachable by name anyway, so they take any `Host` (the Origin check still applies).
public struct HostAllowlist: Sendable {
    /// nil: every host is answered.
    let names: Set<String>?

    public init(listen: HostPort, publicURL: String) {
        guard listen.isLoopback else {
            names = nil
            return
        }
        var names: Set<String> = ["localhost", "127.0.0.1", "::1"]
        if let host = URLComponents(string: publicURL)?.host?.lowercased() {
            names.insert(host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host)
        }
        names.insert(listen.host.lowercased())
        self.names = names
    }

    /// Whether a request with this `Host` header (nil when absent) may be answered.
    public func allows(_ header: String?) -> Bool {
        guard let names, let header else { return true }
        return names.contains(Self.hostName(of: header))
    }

    /// The name of `host[:port]` or `[v6]:port`, lower-cased.
    static func hostName(of header: String) -> String {
        let value = header.trimmingCharacters(in: .whitespaces).lowercased()
        if value.hasPrefix("["), let close = value.firstIndex(of: "]") {
            return String(value[value.index(after: value.startIndex)..<close])
        }
        if let colon = value.lastIndex(of: ":"), value.firstIndex(of: ":") == colon {
            return String(value[..<colon])
        }
        return value
    }
}

import RampartCore

/// `host:port`, as `RAMPART_LISTEN` and `RAMPART_METRICS_LISTEN` take it (`[::1]:8080` for IPv6).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing raw: String, key: String) throws(RampartError) {
        guard let colon = raw.lastIndex(of: ":"), colon != raw.startIndex else {
            throw .configuration(key: key, "expected host:port")
        }
        var host = String(raw[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(raw[raw.index(after: colon)...]), (0...65535).contains(port) else {
            throw .configuration(key: key, "the port must be a number from 0 to 65535")
        }
        guard !host.isEmpty, host.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0 != "/" }) else {
            throw .configuration(key: key, "the host is not valid")
        }
        self.host = host
        self.port = port
    }

    /// True for addresses only this machine can reach.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

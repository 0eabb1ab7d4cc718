import Foundation
import RampartCore

/// The PostgreSQL cluster of `--dev`, under `.rampart/pg`: created with initdb on first use,
/// started with pg_ctl, reachable only through its Unix socket in a directory of mode 0700 (no TCP
/// listener), so trust authentication admits only the cluster's OS user and root — never another
/// local user. `.rampart/` itself is 0700.
struct EmbeddedCluster {
    let root: URL
    let bin: String
    let clusterDirectory: URL

    init(root: URL) throws(RampartError) {
        self.root = root
        bin = try LocalCommand.postgresBinDirectory()
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root.path)
        } catch {
            throw RampartError(.unavailable, "cannot create \(root.path)", detail: "\(error)")
        }
        clusterDirectory = try Self.prepareClusterDirectory(root.appendingPathComponent("pg"))
    }

    private var dataDirectory: String { clusterDirectory.appendingPathComponent("data").path }
    /// Where the cluster's socket is: the only way in.
    var socketDirectory: String { clusterDirectory.appendingPathComponent("sock").path }
    private var portFile: URL { root.appendingPathComponent("pg.port") }

    /// Starts the cluster if it is not running and returns its port.
    func start() throws(RampartError) -> Int {
        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            try LocalCommand(
                executable: "\(bin)/initdb",
                arguments: [
                    "-D", dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync",
                ],
                asPostgresUser: true
            ).runChecked("initdb")
        }
        try ensureOwnedDirectory(socketDirectory)
        let port = try clusterPort()
        let status = try LocalCommand(
            executable: "\(bin)/pg_ctl",
            arguments: ["-D", dataDirectory, "status"],
            asPostgresUser: true
        ).run()
        if status.status != 0 {
            let options = "-p \(port) -k \(socketDirectory) -c listen_addresses=''"
            try LocalCommand(
                executable: "\(bin)/pg_ctl",
                arguments: [
                    "-D", dataDirectory, "-l", clusterDirectory.appendingPathComponent("server.log").path,
                    "-w", "-t", "60", "-o", options, "start",
                ],
                asPostgresUser: true
            ).runChecked("starting the dev PostgreSQL cluster")
        }
        return port
    }

    /// The port kept in `.rampart/pg.port`, chosen once from the free ones.
    private func clusterPort() throws(RampartError) -> Int {
        if let text = try? String(contentsOf: portFile, encoding: .utf8),
            let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            return port
        }
        let port = try FreePort.find()
        guard FileManager.default.createFile(atPath: portFile.path, contents: Data("\(port)\n".utf8)) else {
            throw RampartError(.unavailable, "cannot write \(portFile.path)")
        }
        return port
    }

    private func ensureOwnedDirectory(_ path: String) throws(RampartError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        } catch {
            throw RampartError(.unavailable, "cannot create \(path)", detail: "\(error)")
        }
        try Self.giveToPostgres(path)
    }

    /// As root the cluster belongs to the postgres OS user, which must be able to reach it; when
    /// the project lives somewhere that user cannot enter (such as /root), the cluster goes to
    /// /var/tmp and `.rampart/pg` links to it.
    private static func prepareClusterDirectory(_ preferred: URL) throws(RampartError) -> URL {
        let manager = FileManager.default
        if !manager.fileExists(atPath: preferred.path) {
            do {
                try manager.createDirectory(at: preferred, withIntermediateDirectories: true)
            } catch {
                throw RampartError(.unavailable, "cannot create \(preferred.path)", detail: "\(error)")
            }
        }
        guard LocalCommand.isRoot else { return preferred }
        try giveToPostgres(preferred.resolvingSymlinksInPath().path)
        let reachable = try LocalCommand(
            executable: "/usr/bin/test",
            arguments: ["-w", preferred.resolvingSymlinksInPath().path],
            asPostgresUser: true
        ).run()
        if reachable.status == 0 { return preferred.resolvingSymlinksInPath() }

        let hash = preferred.path.utf8.reduce(UInt64(14_695_981_039_346_656_037)) {
            ($0 ^ UInt64($1)) &* 1_099_511_628_211
        }
        let fallback = URL(fileURLWithPath: "/var/tmp/rampart-dev-\(String(hash, radix: 16))")
        do {
            try manager.createDirectory(at: fallback, withIntermediateDirectories: true)
            try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: fallback.path)
            try manager.removeItem(at: preferred)
            try manager.createSymbolicLink(at: preferred, withDestinationURL: fallback)
        } catch {
            throw RampartError(.unavailable, "cannot place the dev cluster in \(fallback.path)", detail: "\(error)")
        }
        try giveToPostgres(fallback.path)
        return fallback
    }

    private static func giveToPostgres(_ path: String) throws(RampartError) {
        guard LocalCommand.isRoot else { return }
        guard let account = getpwnam("postgres") else {
            throw RampartError(.unavailable, "there is no postgres OS user: install postgresql (ops/dev does)")
        }
        guard chown(path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
            throw RampartError(.unavailable, "cannot hand \(path) to the postgres user")
        }
    }
}

/// Asks the kernel for a free loopback TCP port.
enum FreePort {
    static func find() throws(RampartError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RampartError(.unavailable, "cannot open a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw RampartError(.unavailable, "cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

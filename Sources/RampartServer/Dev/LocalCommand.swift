import Foundation
import RampartCore

/// Runs a local program to completion (the PostgreSQL tools of `--dev`); as root, PostgreSQL's
/// tools run as the `postgres` OS user, because the server refuses to run as root.
struct LocalCommand {
    static var isRoot: Bool { getuid() == 0 }

    let executable: String
    let arguments: [String]
    let asPostgresUser: Bool

    @discardableResult
    func run() throws(RampartError) -> (status: Int32, output: String) {
        // `env -C /`: the postgres user may not be able to read the caller's working directory.
        let argv: [String] =
            ["/usr/bin/env", "-C", "/"]
            + (asPostgresUser && Self.isRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : [])
            + [executable] + arguments
        // Output goes to a file, and the child is spawned and reaped directly: a server that
        // pg_ctl starts inherits descriptors and would keep a pipe (or Foundation's Process
        // exit monitor) open forever.
        let outputPath = NSTemporaryDirectory() + "rampart-command-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else {
            throw RampartError(.unavailable, "cannot run \(argv[0])", detail: "posix_spawn: \(spawned)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        return (exitStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs and fails with a one-line error (the tool's last output line) on a non-zero exit.
    func runChecked(_ what: String) throws(RampartError) {
        let result = try run()
        guard result.status == 0 else {
            let last = result.output.split(separator: "\n").last.map(String.init) ?? "exit \(result.status)"
            throw RampartError(.unavailable, "\(what) failed: \(last)", detail: result.output)
        }
    }

    /// The newest installed PostgreSQL server's bin directory.
    static func postgresBinDirectory() throws(RampartError) -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let candidates = versions.compactMap(Int.init).sorted(by: >).map { "\(root)/\($0)/bin" }
        guard let directory = candidates.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") })
        else {
            throw RampartError(
                .unavailable,
                "no PostgreSQL server found under /usr/lib/postgresql: install postgresql (ops/dev does)"
            )
        }
        return directory
    }
}

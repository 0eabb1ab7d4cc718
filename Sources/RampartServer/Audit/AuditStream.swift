import Foundation
import RampartCore

/// The JSON-lines audit stream (`RAMPART_AUDIT_LOG`): a file, or stderr for `-`.
final class AuditStream: Sendable {
    private let handle: FileHandle

    init(path: String) throws {
        if path == "-" {
            handle = .standardError
            return
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            else { throw RampartError.configuration(key: "RAMPART_AUDIT_LOG", "cannot create the file") }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw RampartError.configuration(key: "RAMPART_AUDIT_LOG", "cannot open the file for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func write(_ events: [AuditEvent]) {
        guard !events.isEmpty else { return }
        let timestamp = Timestamp.iso8601(Date())
        let text = events.map { $0.jsonLine(at: timestamp) + "\n" }.joined()
        handle.write(Data(text.utf8))
    }
}

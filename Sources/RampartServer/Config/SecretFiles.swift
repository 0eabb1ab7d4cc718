import Foundation
import RampartCore

/// Secrets read from files: every key that may hold a secret also has a `_FILE` form naming a
/// file whose content is the value (trailing newlines dropped), so secrets need not appear in a
/// process's environment or on its command line (`/proc/PID/cmdline` is readable by every user).
public enum SecretFiles {
    /// The keys that may hold a secret: a signing key, or a URL with a password.
    public static let secretKeys = [
        "RAMPART_JWT_HS256_SECRET", "RAMPART_DATABASE_URL", "RAMPART_ADMIN_DATABASE_URL", "RAMPART_METRICS_TOKEN",
        "RAMPART_CHANGES_DATABASE_URL",
    ]

    /// `values` with every `KEY_FILE` replaced by `KEY` holding the file's content.
    public static func resolve(_ values: [String: String]) throws(RampartError) -> [String: String] {
        var resolved = values
        for key in secretKeys {
            let fileKey = key + "_FILE"
            guard let path = values[fileKey]?.trimmingCharacters(in: .whitespaces), !path.isEmpty else {
                resolved[fileKey] = nil
                continue
            }
            if let direct = values[key], !direct.trimmingCharacters(in: .whitespaces).isEmpty {
                throw .configuration(key: fileKey, "set \(key) or \(fileKey), not both")
            }
            guard let data = FileManager.default.contents(atPath: path),
                let text = String(data: data, encoding: .utf8)
            else {
                throw .configuration(key: fileKey, "cannot read the file")
            }
            resolved[key] = String(text.reversed().drop(while: { $0 == "\n" || $0 == "\r" }).reversed())
            resolved[fileKey] = nil
        }
        return resolved
    }

    /// Whether a configuration value given on the command line is a secret: the HS256 secret or
    /// a database URL carrying a password.
    public static func isSecret(key: String, value: String) -> Bool {
        switch key {
        case "RAMPART_JWT_HS256_SECRET", "RAMPART_METRICS_TOKEN": return true
        case "RAMPART_DATABASE_URL", "RAMPART_ADMIN_DATABASE_URL", "RAMPART_CHANGES_DATABASE_URL":
            return URLComponents(string: value)?.password?.isEmpty == false
        default: return false
        }
    }
}

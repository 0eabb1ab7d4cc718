import ArgumentParser
import Foundation
import RampartCore

/// Exit status: 0 success, 1 failure, 2 usage error; errors are one line on stderr.
@main
enum Entry {
    static func main() async {
        do {
            var command = try RampartCommand.parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as RampartError {
            Console.error(error.message)
            if ProcessInfo.processInfo.environment["LOG_LEVEL"] == "debug" {
                FileHandle.standardError.write(Data("debug: \(String(reflecting: error))\n".utf8))
            }
            exit(1)
        } catch {
            let code = RampartCommand.exitCode(for: error)
            if code == .success {
                print(RampartCommand.fullMessage(for: error))
                exit(0)
            }
            Console.error(RampartCommand.message(for: error) + " (\(usage(for: error)))")
            exit(code == .validationFailure ? 2 : 1)
        }
    }

    /// The command's usage line, from ArgumentParser's full message, folded into the one error line.
    static func usage(for error: any Error) -> String {
        let lines = RampartCommand.fullMessage(for: error).split(separator: "\n")
        guard let line = lines.first(where: { $0.hasPrefix("Usage: ") }) else { return "see --help" }
        return "usage: " + line.dropFirst("Usage: ".count).trimmingCharacters(in: .whitespaces) + "; see --help"
    }
}

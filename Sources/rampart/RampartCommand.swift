import ArgumentParser
import Foundation
import Logging

struct RampartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rampart",
        abstract: "A secure, multi-tenant MCP server backed by PostgreSQL.",
        subcommands: [ServeCommand.self, DBCommand.self, AdminCommand.self, TokenCommand.self, AuditCommand.self]
    )
}

/// What the commands print: data to stdout, one-line errors to stderr.
enum Console {
    static func error(_ message: String) {
        let line = message.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("error: \(line)\n".utf8))
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Left-aligned columns for human output.
    static func printTable(_ header: [String], _ rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  "))
        }
    }

    /// Logs go to stderr; `LOG_LEVEL` raises or lowers the default.
    static func makeLogger(label: String, defaultLevel: Logger.Level) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel =
            ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? defaultLevel
        return logger
    }

    static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label) }
    }
}

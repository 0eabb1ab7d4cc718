import ArgumentParser
import RampartCore
import RampartMCP

// Enumerated arguments are parsed by ArgumentParser, so a value outside the set is a usage error
// (exit 2, naming the allowed values and the command's usage), never a failure of the command.

/// `on` or `off`.
enum Switch: String, CaseIterable, ExpressibleByArgument {
    case on, off
}

extension RedactionRule.Action: ExpressibleByArgument {}

/// An operation that has a cost: a tool's name.
struct Operation: ExpressibleByArgument {
    let name: String

    init?(argument: String) {
        guard let tool = ToolCatalog.named(argument) else { return nil }
        name = tool.name
    }

    static var allValueStrings: [String] { ToolCatalog.all.map(\.name) }
}

import FuzzDriver
import RampartCore
import RampartMCP

ToolCatalog.all.forEach { SchemaValidator.precompile($0.inputSchema) }
runFuzzer()

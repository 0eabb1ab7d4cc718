import RampartCore
import RampartMCP

/// execute_query's arguments: any JSON object through the strict argument reader and the query
/// validator; what validates has only allowlisted field paths and a bounded limit.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let arguments = (try? JSONParser.parse(bytes))?.objectValue else { return 0 }
    guard case .query(let query)? = try? ToolCall.parse(ToolCatalog.executeQuery, arguments: arguments).call else {
        return 0
    }
    precondition((1...DocumentQuery.maxLimit).contains(query.limit))
    for field in query.fieldsUsed {
        precondition((try? FieldPath(validating: field.description)) != nil, "fields stay allowlisted")
    }
    precondition(query.orderBy.count <= 4 && query.conditions.count <= 16)
    return 0
}

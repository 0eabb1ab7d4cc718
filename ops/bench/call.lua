-- wrk: one stateless-era read_resource call per request, rotating over the tokens in
-- $BENCH_TOKENS (lines "TENANT TOKEN"), so tenants, users and conversations vary as in call.sql.
local requests = {}
local index = 0

function init(args)
    for line in io.lines(os.getenv("BENCH_TOKENS")) do
        local tenant, token = line:match("^(%S+)%s+(%S+)$")
        local body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_resource",' ..
            '"arguments":{"uri":"tenant://' .. tenant .. '/sales/q1"},"_meta":{' ..
            '"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
        local headers = {
            ["Authorization"] = "Bearer " .. token,
            ["Content-Type"] = "application/json",
            ["MCP-Protocol-Version"] = "2026-07-28",
            ["Mcp-Method"] = "tools/call",
            ["Mcp-Name"] = "read_resource",
        }
        table.insert(requests, wrk.format("POST", "/mcp", headers, body))
    end
end

function request()
    index = index % #requests + 1
    return requests[index]
end


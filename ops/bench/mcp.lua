-- wrk: one MCP request per wrk request, rotating over the callers in $BENCH_TOKENS (lines
-- "TENANT TOKEN [SESSION]"), so tenants, users and conversations vary.
--   BENCH_CALL: read (read_resource of tenant://T/sales/q1), write (write_resource of
--               tenant://T/load/<user>), or list (tools/list)
--   BENCH_ERA:  stateless (2026-07-28, the default) or handshake (2025-11-25, the line's SESSION)
local requests = {}
local index = 0

local function body(call, tenant, user, era)
    local meta = ""
    if era == "stateless" then
        meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
            '"io.modelcontextprotocol/clientCapabilities":{}}'
    end
    if call == "list" then
        return '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{' .. meta:sub(2) .. '}}'
    end
    local arguments
    if call == "write" then
        arguments = '{"uri":"tenant://' .. tenant .. '/load/' .. user .. '","content":{"note":"bench"}}'
    else
        arguments = '{"uri":"tenant://' .. tenant .. '/sales/q1"}'
    end
    local name = call == "write" and "write_resource" or "read_resource"
    return '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. name ..
        '","arguments":' .. arguments .. meta .. '}}'
end

function init(args)
    local call = os.getenv("BENCH_CALL") or "read"
    local era = os.getenv("BENCH_ERA") or "stateless"
    local user = 0
    for line in io.lines(os.getenv("BENCH_TOKENS")) do
        local tenant, token, session = line:match("^(%S+)%s+(%S+)%s*(%S*)$")
        user = user + 1
        local headers = {
            ["Authorization"] = "Bearer " .. token,
            ["Content-Type"] = "application/json",
            ["Accept"] = "application/json, text/event-stream",
        }
        if era == "handshake" then
            headers["MCP-Protocol-Version"] = "2025-11-25"
            headers["Mcp-Session-Id"] = session
        else
            headers["MCP-Protocol-Version"] = "2026-07-28"
            headers["Mcp-Method"] = call == "list" and "tools/list" or "tools/call"
            if call ~= "list" then
                headers["Mcp-Name"] = call == "write" and "write_resource" or "read_resource"
            end
        end
        table.insert(requests, wrk.format("POST", "/mcp", headers, body(call, tenant, "u" .. user, era)))
    end
end

function request()
    index = index % #requests + 1
    return requests[index]
end

"""Streamable HTTP at /mcp, both eras on the wire (reference/mcp-protocol-2026.md §1.6, §7)."""
import base64
import json

import httpx
import pytest

from rampart_server import ENVELOPE, RampartServer, request, tool_call


def error_of(response):
    return response.json()["error"]


@pytest.fixture
def token(server, tenants):
    return server.token(tenants[0])


def test_discover_is_schema_complete(server, token):
    result = server.post(request("server/discover"), token=token).json()["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == ["2026-07-28"]
    assert {"ttlMs", "cacheScope", "capabilities"} <= result.keys()
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "rampart"


def test_per_principal_lists_are_private(server, token):
    for method in ("tools/list", "resources/list", "resources/templates/list"):
        result = server.post(request(method), token=token).json()["result"]
        assert result["cacheScope"] == "private" and result["resultType"] == "complete", method
        assert isinstance(result["ttlMs"], int)


@pytest.mark.parametrize("mutate,status,code", [
    (lambda body, headers: body["params"].pop("_meta"), 400, -32602),
    (lambda body, headers: body["params"]["_meta"].pop("io.modelcontextprotocol/clientCapabilities"), 400, -32602),
    (lambda body, headers: headers.update({"Mcp-Method": "tools/list"}), 400, -32020),
    (lambda body, headers: headers.update({"Mcp-Method": None}), 400, -32020),
    (lambda body, headers: headers.update({"Mcp-Name": "read_resource"}), 400, -32020),
    (lambda body, headers: body["params"]["_meta"].update(
        {"io.modelcontextprotocol/protocolVersion": "2099-01-01"}), 400, -32020),
    (lambda body, headers: headers.update({"Mcp-Param-Region": "x"}), 400, -32020),
])
def test_the_stateless_ladder(server, token, mutate, status, code):
    body = tool_call("list_resources", {})
    headers = {}
    mutate(body, headers)
    response = server.post(body, token=token, headers=headers)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code
    assert response.json()["id"] == 1


def test_an_unsupported_version_is_32022(server, token):
    body = request("tools/list")
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2099-01-01"
    response = server.post(body, token=token, version="2099-01-01", method="tools/list")
    assert response.status_code == 400
    assert error_of(response) == {"code": -32022, "message": "Unsupported protocol version",
                                  "data": {"supported": ["2026-07-28"], "requested": "2099-01-01"}}


@pytest.mark.parametrize("method", ["initialize", "ping", "logging/setLevel", "resources/subscribe", "nope/nope"])
def test_unknown_and_removed_methods_are_404(server, token, method):
    response = server.post(request(method), token=token)
    assert response.status_code == 404
    assert error_of(response)["code"] == -32601


def test_mcp_name_may_be_base64(server, tenants, token):
    uri = f"tenant://{tenants[0]}/sales/q1"
    encoded = "=?base64?" + base64.b64encode(uri.encode()).decode() + "?="
    response = server.post(request("resources/read", {"uri": uri}), token=token, name=encoded)
    assert response.status_code == 200, response.text


def test_get_and_delete_are_405_in_the_stateless_era(server, token):
    headers = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28"}
    for method in ("GET", "DELETE"):
        response = httpx.request(method, server.url, headers=headers, timeout=10)
        assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_notifications_are_accepted(server, token):
    note = {"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 1, "_meta": dict(ENVELOPE)}}
    response = server.post(note, token=token, method="notifications/cancelled")
    assert response.status_code == 202 and response.content == b""


def test_guards_origin_size_json(server, token):
    response = server.post(request("tools/list"), token=token, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    allowed = server.post(request("tools/list"), token=token, headers={"Origin": server.base})
    assert allowed.status_code == 200

    big = tool_call("write_resource", {"uri": "tenant://x/y/z", "content": {"blob": "x" * (1 << 20)}})
    assert server.post(big, token=token).status_code == 413

    for raw in ('{"jsonrpc": "2.0", "id": 1,', '[' * 40 + ']' * 40, '{"a": 1, "a": 2}', '\xff'):
        response = server.post(None, token=token, raw=raw.encode("latin-1"), method="tools/list")
        assert response.status_code == 400
        assert error_of(response)["code"] == -32700, raw
        assert response.json()["id"] is None

    batch = server.post([request("tools/list")], token=token, method="tools/list")
    assert batch.status_code == 400 and error_of(batch)["code"] == -32600


def test_sse_when_the_client_only_accepts_sse(server, token):
    response = server.post(request("tools/list"), token=token, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.text.startswith("event: message\r\ndata: {")
    payload = json.loads(response.text.split("data: ", 1)[1])
    assert payload["result"]["tools"]


def initialize(server, token):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
    response = server.post(body, token=token, version=None)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"
    return response.headers["mcp-session-id"]


def legacy(server, token, session, body):
    return server.post(body, token=token, version="2025-11-25",
                       headers={"Mcp-Session-Id": session} if session else None)


def test_sessions_are_shared_by_processes_and_bound_to_their_principal(server, keys, tenants):
    tenant = tenants[0]
    alice = server.token(tenant, sub="alice")
    session = initialize(server, alice)
    assert 16 <= len(session) <= 128 and all(0x21 <= ord(c) <= 0x7E for c in session)
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert legacy(server, alice, session, note).status_code == 202

    second = RampartServer(keys)
    try:
        alice_there = second.token(tenant, sub="alice")
        listed = legacy(second, alice_there, session, tool_call("list_resources", {}, modern=False))
        assert listed.status_code == 200, listed.text
        assert listed.json()["result"]["structuredContent"]["resources"]

        for stranger in (second.token(tenant, sub="mallory"), second.token(tenants[1], sub="alice")):
            response = legacy(second, stranger, session, tool_call("list_resources", {}, modern=False))
            assert response.status_code == 404, response.text
    finally:
        second.stop()

    missing = legacy(server, alice, None, request("tools/list", modern=False))
    assert missing.status_code == 400 and error_of(missing)["code"] == -32600

    ended = httpx.delete(server.url, timeout=10, headers={
        "Authorization": f"Bearer {alice}", "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": session})
    assert ended.status_code == 200
    assert legacy(server, alice, session, request("tools/list", modern=False)).status_code == 404


def test_handshake_era_errors_keep_200_for_method_errors(server, token):
    session = initialize(server, token)
    response = legacy(server, token, session, request("nope/nope", modern=False))
    assert response.status_code == 200 and error_of(response)["code"] == -32601


def test_head_is_answered_like_get_and_other_methods_get_405(server, token):
    for path in ("/healthz", "/readyz", "/.well-known/oauth-protected-resource"):
        got, head = httpx.get(server.base + path, timeout=10), httpx.head(server.base + path, timeout=10)
        assert head.status_code == got.status_code == 200 and head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
    headers = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28"}
    for method in ("HEAD", "PUT", "PATCH"):
        response = httpx.request(method, server.url, headers=headers, content=b"{}", timeout=10)
        assert response.status_code == 405 and response.headers["allow"] == "POST", method
    legacy_put = httpx.put(server.url, headers={**headers, "MCP-Protocol-Version": "2025-11-25"}, timeout=10)
    assert legacy_put.status_code == 405 and legacy_put.headers["allow"] == "POST, DELETE"


def test_session_errors_carry_the_request_id(server, token):
    missing = legacy(server, token, None, request("tools/list", id=41, modern=False))
    assert missing.status_code == 400 and missing.json()["id"] == 41
    unknown = legacy(server, token, "x" * 32, request("tools/list", id="forty-two", modern=False))
    assert unknown.status_code == 404 and unknown.json()["id"] == "forty-two"
    session = initialize(server, token)
    httpx.delete(server.url, timeout=10, headers={
        "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": session})
    ended = legacy(server, token, session, request("tools/list", id=43, modern=False))
    assert ended.status_code == 404 and ended.json()["id"] == 43 and error_of(ended)["code"] == -32600


def test_an_invalid_cursor_on_an_unpaginated_list_is_32602(server, token):
    for method in ("tools/list", "resources/templates/list"):
        response = server.post(request(method, {"cursor": "bm9wZQ"}), token=token)
        assert response.status_code == 400 and error_of(response)["code"] == -32602, method
        session = initialize(server, token)
        response = legacy(server, token, session, request(method, {"cursor": "bm9wZQ"}, modern=False))
        assert response.status_code == 200 and error_of(response)["code"] == -32602, method

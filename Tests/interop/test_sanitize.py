"""Sanitization in (CONTRACT.md §11) and uniform answers, both eras: hostile input is an error
result, never data and never a 500; forbidden, out-of-scope, foreign and missing resources answer
byte for byte alike, as do unknown, foreign and expired conversations."""
import json
import time

import httpx
import pytest

from conftest import run
from rampart_server import request, tool_call

ERAS = ["2026-07-28", "2025-11-25"]


def session_headers(server, token, era):
    if era == "2026-07-28":
        return None
    body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": era, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    return {"Mcp-Session-Id": server.post(body, token=token, version=None).headers["mcp-session-id"]}


def without_id(response):
    body = response.json()
    body.pop("id", None)
    return response.status_code, json.dumps(body, sort_keys=True)


@pytest.mark.parametrize("era", ERAS)
def test_hostile_uris_are_errors_never_data_never_500(server, tenants, era):
    a, _ = tenants
    token = server.token(a)
    headers = session_headers(server, token, era)
    modern = era == "2026-07-28"
    for uri in ["tenant://acme/../globex/x", "tenant://ACME/sales/q1", "file:///etc/passwd",
                f"tenant://{a}/sales/" + "x" * 10240, f"tenant://{a}/sales/q1\u0000", f"tenant://{a}/sales/q1%00",
                f"tenant://{a}/sales/..", "", f"tenant://{a}/sales/q1/", "tenant:///sales/q1"]:
        for body in (tool_call("read_resource", {"uri": uri}, modern=modern),
                     request("resources/read", {"uri": uri}, modern=modern)):
            response = server.post(body, token=token, version=era, headers=headers,
                                   name=None if body["method"] == "tools/call" else "x")
            assert response.status_code in (200, 400), (uri[:40], response.status_code, response.text[:200])
            text = response.text
            assert "amount" not in text and "Traceback" not in text and "SQL" not in text
            payload = response.json()
            if "result" in payload:
                assert payload["result"]["isError"] is True, (uri[:40], text[:200])
            else:
                assert payload["error"]["code"] in (-32602, -32020, -32002), (uri[:40], text[:200])


def test_deep_nesting_and_oversize_leave_the_server_healthy(server, tenants):
    token = server.token(tenants[0])
    deep = '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":' + "[" * 100 + "]" * 100 + "}"
    response = server.post(None, token=token, raw=deep.encode(), method="tools/list")
    assert response.status_code == 400 and response.json()["error"]["code"] == -32700
    huge = server.post(None, token=token, raw=b'{"a":"' + b"x" * (2 << 20) + b'"}', method="tools/list")
    assert huge.status_code == 413
    garbage = server.post(None, token=token, raw=b"\x00\xff{nope", method="tools/list")
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == -32700
    assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200
    assert server.post(request("tools/list"), token=token).status_code == 200


@pytest.mark.parametrize("era", ERAS)
def test_every_unseeable_resource_answers_alike(server, tenants, era):
    a, b = tenants
    modern = era == "2026-07-28"
    token = server.token(a, rampart_scope=[f"tenant://{a}/sales/*"])
    headers = session_headers(server, token, era)
    uris = {
        "out of scope": f"tenant://{a}/hr/aardvark",
        "another tenant's": f"tenant://{b}/sales/q1",
        "missing": f"tenant://{a}/sales/nope",
    }
    for make in (lambda uri, n: tool_call("read_resource", {"uri": uri}, id=n, modern=modern),
                 lambda uri, n: request("resources/read", {"uri": uri}, id=n, modern=modern)):
        answers = {what: without_id(server.post(make(uri, n), token=token, version=era, headers=headers))
                   for n, (what, uri) in enumerate(uris.items())}
        assert len(set(answers.values())) == 1, answers
        assert b not in json.dumps(answers) and "aardvark" not in json.dumps(answers)


def test_every_unusable_conversation_answers_alike(server, tenants):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--conversation-idle-seconds", "1").returncode == 0
    alice, bob = server.token(a, sub="alice"), server.token(a, sub="bob")
    open_call = tool_call("open_conversation", {})
    expired = server.post(open_call, token=bob).json()["result"]["structuredContent"]["conversation"]
    foreign = server.post(open_call, token=alice).json()["result"]["structuredContent"]["conversation"]
    revoked = server.post(open_call, token=bob).json()["result"]["structuredContent"]["conversation"]
    assert run("admin", "conversation", "revoke", revoked).returncode == 0
    time.sleep(1.5)
    answers = set()
    for handle in (expired, foreign, revoked, "u" * 32):
        response = server.post(tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": handle}),
                               token=bob)
        answers.add(without_id(response))
    assert len(answers) == 1, answers
    assert "conversation not found" in answers.pop()[1]


@pytest.mark.parametrize("condition", [
    {"field": "region", "op": "eq", "value": "emea\u0000"},
    {"field": "region", "op": "ne", "value": "\u0000"},
    {"field": "title", "op": "contains", "value": "north\u0000"},
    {"field": "region", "op": "in", "value": ["amer", "emea\u0000"]},
    {"field": "region", "op": "lt", "value": "\u0000z"},
    {"field": "contact", "op": "eq", "value": {"country\u0000": "de"}},
])
def test_a_value_postgresql_cannot_hold_is_an_argument_error(server, tenants, condition):
    a, _ = tenants
    response = server.post(tool_call("execute_query", {"collection": "sales", "where": [condition]}),
                           token=server.token(a))
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is True and 'invalid argument "where"' in result["content"][0]["text"]
    assert "NUL" in result["content"][0]["text"]


def test_search_text_and_content_with_nul_are_cleaned_not_500(server, tenants):
    a, _ = tenants
    token = server.token(a)
    search = server.post(tool_call("search_resources", {"query": "aardvark\u0000"}), token=token)
    assert search.status_code == 200 and search.json()["result"]["isError"] is False
    write = server.post(tool_call("write_resource", {"uri": f"tenant://{a}/notes/n\u0000",
                                                     "content": {"t": "x"}}), token=token)
    assert write.status_code == 200 and write.json()["result"]["isError"] is True


@pytest.mark.parametrize("era", ERAS)
def test_a_versioned_write_to_a_missing_document_answers_like_a_foreign_one(server, tenants, era):
    a, b = tenants
    modern = era == "2026-07-28"
    token = server.token(a, rampart_scope=[f"tenant://{a}/sales/*"])
    headers = session_headers(server, token, era)
    uris = {"missing": f"tenant://{a}/sales/nope", "foreign": f"tenant://{b}/sales/q1",
            "out of scope": f"tenant://{a}/hr/aardvark"}
    answers = {}
    for n, (what, uri) in enumerate(uris.items()):
        call = tool_call("write_resource", {"uri": uri, "content": {"x": 1}, "if_version": 1}, id=n, modern=modern)
        answers[what] = without_id(server.post(call, token=token, version=era, headers=headers))
    assert len(set(answers.values())) == 1, answers
    assert "resource not found" in answers["missing"][1]
    assert run("admin", "resource", "get", f"tenant://{a}/sales/nope").returncode == 1

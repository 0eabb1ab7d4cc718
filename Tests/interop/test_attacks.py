"""The attack suite (docs/threat-model.md): black-box attacks on the real binary, one case each,
each asserting the answer its defense gives — so removing the defense fails the case. JOSE header
tricks, JSON-RPC oddities, encoded and Unicode URI traversal, forged cursors and handles, query
and full-text-search operator injection, header injection, Origin and Host tricks, and existence
oracles."""
import base64
import hashlib
import hmac
import json
import socket

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import run
from rampart_server import ISSUER, SECRET, b64url, request, tool_call

ATTACKER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(key):
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "n": b64url(numbers.n.to_bytes(256, "big")), "e": b64url(numbers.e.to_bytes(3, "big"))}


def raw_token(header_text, payload_text, key=SECRET.encode(), signature=None):
    """A compact JWS over exactly these header and payload bytes (HMAC-SHA256 unless told)."""
    signing_input = (b64url(header_text.encode()) + "." + b64url(payload_text.encode())).encode()
    if signature is None:
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return signing_input.decode() + "." + b64url(signature)


def claims_text(server, tenant, **overrides):
    return json.dumps(server.claims(tenant, **overrides))


# JOSE header tricks and claim confusion: every one is a 401 -------------------------------------

def jose_cases(server, tenant, keys):
    claims = server.claims(tenant)
    payload = json.dumps(claims)
    attacker = {"kid": "rsa-1"}  # the server's own kid, with the attacker's key
    cases = {
        "jku to the attacker's keys": jwt.encode(claims, ATTACKER, algorithm="RS256",
                                                 headers={**attacker, "jku": "http://127.0.0.1:9/jwks.json"}),
        "x5u to the attacker's chain": jwt.encode(claims, ATTACKER, algorithm="RS256",
                                                  headers={**attacker, "x5u": "http://127.0.0.1:9/chain.pem"}),
        "x5c carrying the attacker's key": jwt.encode(claims, ATTACKER, algorithm="RS256",
                                                      headers={**attacker, "x5c": [b64url(b"not-a-cert")]}),
        "embedded jwk of the attacker": jwt.encode(claims, ATTACKER, algorithm="RS256",
                                                   headers={**attacker, "jwk": jwk_of(ATTACKER)}),
        "crit with a known name": raw_token('{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}', payload),
        "crit with an unknown extension": raw_token('{"alg":"HS256","crit":["b64"],"b64":false}', payload),
        "kid path traversal, empty key": raw_token('{"alg":"HS256","kid":"../../../../dev/null"}', payload, key=b""),
        "kid SQL injection": raw_token('{"alg":"HS256","kid":"x\' UNION SELECT \'k\' --"}', payload, key=b"k"),
        "alg none": raw_token('{"alg":"none"}', payload, signature=b""),
        "alg None": raw_token('{"alg":"None"}', payload, signature=b""),
        "alg NONE": raw_token('{"alg":"NONE"}', payload, signature=b""),
        "alg nOnE": raw_token('{"alg":"nOnE"}', payload, signature=b""),
        "alg hs256 in lower case": raw_token('{"alg":"hs256"}', payload),
        "alg Hs256 mixed case": raw_token('{"alg":"Hs256"}', payload),
        "alg HS384 with the secret": jwt.encode(claims, SECRET, algorithm="HS384"),
        "alg HS512 with the secret": jwt.encode(claims, SECRET, algorithm="HS512"),
        "RS256 header over an HMAC of the secret": raw_token('{"alg":"RS256","kid":"rsa-1"}', payload),
        "duplicate alg in the header": raw_token('{"alg":"none","alg":"HS256"}', payload),
        "duplicate tenant claim": raw_token('{"alg":"HS256"}', payload[:-1] + ', "tenant_id": "someone-else"}'),
        "duplicate sub claim": raw_token('{"alg":"HS256"}', payload[:-1] + ', "sub": "admin"}'),
        "tenant claim as an array": raw_token('{"alg":"HS256"}', claims_text(server, tenant, tenant_id=[tenant])),
        "tenant claim as a wildcard": raw_token('{"alg":"HS256"}', claims_text(server, tenant, tenant_id="*")),
        "exp as a string": raw_token('{"alg":"HS256"}', claims_text(server, tenant, exp="9999999999")),
        "audience list without ours": raw_token('{"alg":"HS256"}', claims_text(
            server, tenant, aud=["https://a.example/mcp", "https://b.example/mcp"])),
        "empty subject": raw_token('{"alg":"HS256"}', claims_text(server, tenant, sub="")),
        "issuer with a trailing slash": raw_token('{"alg":"HS256"}', claims_text(server, tenant, iss=ISSUER + "/")),
        "header that is not JSON": b64url(b"{alg:HS256") + "." + b64url(payload.encode()) + ".AAAA",
        "four segments": server.token(tenant) + ".AAAA",
        "padded segments": ".".join(part + "==" for part in server.token(tenant).split(".")),
    }
    return cases


JOSE = ["jku to the attacker's keys", "x5u to the attacker's chain", "x5c carrying the attacker's key",
        "embedded jwk of the attacker", "crit with a known name", "crit with an unknown extension",
        "kid path traversal, empty key", "kid SQL injection", "alg none", "alg None", "alg NONE", "alg nOnE",
        "alg hs256 in lower case", "alg Hs256 mixed case", "alg HS384 with the secret", "alg HS512 with the secret",
        "RS256 header over an HMAC of the secret", "duplicate alg in the header", "duplicate tenant claim",
        "duplicate sub claim", "tenant claim as an array", "tenant claim as a wildcard", "exp as a string",
        "audience list without ours", "empty subject", "issuer with a trailing slash", "header that is not JSON",
        "four segments", "padded segments"]


@pytest.mark.parametrize("case", JOSE)
def test_jose_tricks_are_refused(server, tenants, keys, case):
    token = jose_cases(server, tenants[0], keys)[case]
    response = server.post(request("server/discover"), token=token)
    assert response.status_code == 401, f"{case}: {response.status_code} {response.text[:200]}"
    assert response.json()["error"]["code"] == -31401


@pytest.mark.parametrize("header", ["Bearer", "Basic", "bearer  "])
def test_malformed_authorization_schemes_are_refused(server, tenants, header):
    token = server.token(tenants[0])
    value = {"Bearer": f"Bearer {token} trailing", "Basic": f"Basic {token}", "bearer  ": f"Bearer {token}, x"}[header]
    response = server.post(request("server/discover"), headers={"Authorization": value})
    assert response.status_code == 401, response.text


# JSON-RPC oddities ------------------------------------------------------------------------------

ODD_BODIES = {
    "empty batch": (b"[]", -32600),
    "batch of two": (json.dumps([request("ping", id=1), request("ping", id=2)]).encode(), -32600),
    "id as an object": (json.dumps({**request("ping"), "id": {}}).encode(), -32600),
    "id as an array": (json.dumps({**request("ping"), "id": [1]}).encode(), -32600),
    "id as a boolean": (json.dumps({**request("ping"), "id": True}).encode(), -32600),
    "duplicate method key": (b'{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/list","params":{}}', -32700),
    "invalid UTF-8": (b'{"jsonrpc":"2.0","id":1,"method":"ping\xff","params":{}}', -32700),
    "lone surrogate": (b'{"jsonrpc":"2.0","id":1,"method":"ping\\ud800","params":{}}', -32700),
    "jsonrpc 1.0": (json.dumps({**request("ping"), "jsonrpc": "1.0"}).encode(), -32600),
    "method as a number": (json.dumps({**request("ping"), "method": 42}).encode(), -32600),
    "trailing garbage": (json.dumps(request("ping")).encode() + b" x", -32700),
    "NaN literal": (b'{"jsonrpc":"2.0","id":NaN,"method":"ping","params":{}}', -32700),
    "byte order mark": (b"\xef\xbb\xbf" + json.dumps(request("ping")).encode(), -32700),
    "single quotes": (b"{'jsonrpc':'2.0','id':1,'method':'ping'}", -32700),
}


@pytest.mark.parametrize("case", list(ODD_BODIES))
def test_json_rpc_oddities_are_refused_without_acting(server, tenants, case):
    raw, code = ODD_BODIES[case]
    response = server.post(None, token=server.token(tenants[0]), raw=raw, method="ping")
    assert response.status_code == 400, f"{case}: {response.status_code} {response.text[:200]}"
    assert response.json()["error"]["code"] == code, response.text[:200]


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
def test_a_tools_call_notification_does_not_act(server, tenants, era):
    a, _ = tenants
    uri = f"tenant://{a}/sales/q1"
    modern = era == "2026-07-28"
    headers = None
    if not modern:
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": era, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        headers = {"Mcp-Session-Id": server.post(body, token=server.token(a), version=None).headers["mcp-session-id"]}
    call = tool_call("write_resource", {"uri": uri, "content": {"title": "pwned"}}, modern=modern)
    del call["id"]
    response = server.post(call, token=server.token(a), version=era, headers=headers)
    assert response.status_code in (202, 400), response.text
    assert json.loads(run("admin", "resource", "get", uri, "--json").stdout)["version"] == 1


# Encoded and Unicode URI traversal --------------------------------------------------------------

TRAVERSALS = ["tenant://{a}/sales/%2e%2e%2fhr%2f{w}", "tenant://{a}/sales/..%2fhr/{w}", "tenant://{a}/sales/%252e%252e/hr",
              "tenant://{a}/sales\uff0f..\uff0fhr\uff0f{w}", "tenant://{a}/sales/\u2024\u2024/hr/{w}",
              "tenant://{a}/sales\\..\\hr\\{w}", "tenant://{b}@{a}/hr/{w2}", "tenant://{a}:80/hr/{w}",
              "tenant://{a}/hr/{w}?x=1#y", "tenant://{b}%2f..%2f{a}/hr/{w}", "TENANT://{b}/hr/{w2}",
              "tenant://{a}/./hr/{w}", "tenant://{a}//hr/{w}", "tenant://{b}\u0000/hr/{w2}"]


@pytest.mark.parametrize("pattern", TRAVERSALS)
def test_uri_tricks_never_reach_a_foreign_or_unscoped_document(server, tenants, pattern):
    a, b = tenants
    scoped = server.post(tool_call("open_conversation", {"scope": [f"tenant://{a}/sales/*"]}),
                         token=server.token(a)).json()["result"]["structuredContent"]["conversation"]
    uri = pattern.format(a=a, b=b, w="aardvark", w2="bumblebee")
    response = server.post(tool_call("read_resource", {"uri": uri, "conversation": scoped}), token=server.token(a))
    assert response.status_code in (200, 400), response.text[:200]
    assert "person" not in response.text and "123-45" not in response.text, uri
    payload = response.json()
    assert payload.get("result", {}).get("isError", True), uri


# Forged cursors and handles ---------------------------------------------------------------------

def first_page_cursor(server, tenant):
    page = server.post(tool_call("list_resources", {"limit": 1}), token=server.token(tenant)).json()
    return page["result"]["structuredContent"]["nextCursor"]


@pytest.mark.parametrize("forge", ["another tenant's", "flipped byte", "handmade", "truncated", "huge"])
def test_forged_cursors_are_argument_errors(server, tenants, forge):
    a, b = tenants
    theirs = first_page_cursor(server, b)
    cursor = {"another tenant's": theirs,
              "flipped byte": theirs[:-3] + ("A" if theirs[-3] != "A" else "B") + theirs[-2:],
              "handmade": b64url(json.dumps({"tenant": a, "after": ["hr", ""]}).encode()),
              "truncated": theirs[: len(theirs) // 2],
              "huge": "A" * 20000}[forge]
    response = server.post(tool_call("list_resources", {"cursor": cursor}), token=server.token(a))
    assert response.status_code in (200, 400), response.text[:200]
    text = response.text
    assert "bumblebee" not in text and b not in text
    payload = response.json()
    assert ("error" in payload and payload["error"]["code"] == -32602) or payload["result"]["isError"], text[:200]


@pytest.mark.parametrize("handle", ["' OR '1'='1", "c-" + "0" * 64, "x" * 5000, "../../conversations", "%00"])
def test_forged_conversation_handles_answer_not_found(server, tenants, handle):
    a, _ = tenants
    response = server.post(tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": handle}),
                           token=server.token(a))
    payload = response.json()
    assert response.status_code in (200, 400) and "amount" not in response.text, response.text[:200]
    assert ("error" in payload and payload["error"]["code"] == -32602) or \
        payload["result"]["content"][0]["text"] in ("conversation not found",) or \
        payload["result"]["content"][0]["text"].startswith("invalid argument"), response.text[:200]


# Query and full-text-search operator injection --------------------------------------------------

@pytest.mark.parametrize("query", ["aardvark & !review | q:*", "'; DROP TABLE rampart.documents; --",
                                   "aardvark <-> (review", "\\x27 OR 1=1", "*:* || true"])
def test_search_operators_are_plain_words(server, tenants, query):
    a, b = tenants
    response = server.post(tool_call("search_resources", {"query": query}), token=server.token(a))
    assert response.status_code == 200 and "SQL" not in response.text and "syntax" not in response.text
    assert b not in response.text
    assert json.loads(run("admin", "resource", "get", f"tenant://{a}/sales/q1", "--json").stdout)["version"] == 1


@pytest.mark.parametrize("where", [
    {"field": "title'); DROP TABLE rampart.documents; --", "op": "eq", "value": "x"},
    {"field": "title", "op": "~", "value": ".*"},
    {"field": "../../ssn", "op": "eq", "value": "x"},
    {"field": "title", "op": "in", "value": "not-a-list"},
])
def test_query_injection_is_an_argument_error(server, tenants, where):
    a, _ = tenants
    response = server.post(tool_call("execute_query", {"collection": "sales", "where": [where]}),
                           token=server.token(a))
    payload = response.json()
    assert response.status_code in (200, 400), response.text[:200]
    assert ("error" in payload and payload["error"]["code"] == -32602) or \
        payload["result"]["content"][0]["text"].startswith("invalid argument"), response.text[:200]


@pytest.mark.parametrize("value", [{"$ne": None}, {"$gt": ""}, ["$or", 1]])
def test_operator_shaped_values_are_compared_as_values(server, tenants, value):
    a, _ = tenants
    response = server.post(tool_call("execute_query", {"collection": "sales",
                                                       "where": [{"field": "title", "op": "eq", "value": value}]}),
                           token=server.token(a))
    assert response.status_code == 200, response.text[:200]
    assert json.loads(response.json()["result"]["content"][0]["text"]) == {"rows": []}


# Header injection, Origin and Host --------------------------------------------------------------

def raw_http(server, head):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.mark.parametrize("name", ["Mcp-Method", "Mcp-Session-Id", "MCP-Protocol-Version"])
def test_header_injection_is_refused_and_never_reflected(server, tenants, name):
    token = server.token(tenants[0])
    body = json.dumps(request("ping")).encode()
    head = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"{name}: x\rX-Injected: 1\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    answer = raw_http(server, head)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"x-injected" not in answer.lower()


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example",
                                    "http://localhost:1", "file://"])
def test_foreign_origins_are_403(server, tenants, origin):
    response = server.post(request("ping"), token=server.token(tenants[0]), headers={"Origin": origin})
    assert response.status_code == 403, (origin, response.status_code)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io"])
def test_foreign_host_headers_are_refused_on_a_loopback_listener(server, tenants, host):
    response = server.post(request("ping"), token=server.token(tenants[0]), headers={"Host": host})
    assert response.status_code == 403 and response.json()["error"]["message"] == "Forbidden: host not allowed", \
        (host, response.status_code)


# Existence oracles ------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["list", "search", "query", "count", "read"])
def test_other_tenants_data_is_no_different_from_nothing(server, tenants, form):
    a, b = tenants
    secret = run("admin", "resource", "put", f"tenant://{b}/vault/plan", "--data", '{"word": "zebrafinch"}')
    assert secret.returncode == 0, secret.stderr
    token = server.token(a)

    def ask(collection, word):
        call = {"list": tool_call("list_resources", {"collection": collection}),
                "search": tool_call("search_resources", {"query": word}),
                "query": tool_call("execute_query", {"collection": collection}),
                "count": tool_call("execute_query", {"collection": collection, "aggregate": [{"fn": "count"}]}),
                "read": tool_call("read_resource", {"uri": f"tenant://{a}/{collection}/plan"})}[form]
        response = server.post(call, token=token)
        body = response.json()
        body.pop("id", None)
        return response.status_code, json.dumps(body, sort_keys=True)

    # Only `b` has a "vault" collection and the word "zebrafinch"; nobody has "nothing" or "qqxqq".
    assert ask("vault", "zebrafinch") == ask("nothing", "qqxqq")

"""Authentication on every request (CONTRACT.md §6), over raw HTTP: each bad token is a 401 with
the RFC 9728 challenge, a suspended tenant a 403, a missing scope a 403 naming the scopes."""
import base64
import hashlib
import hmac
import json
import time

import httpx
import jwt
import pytest

from conftest import run
from rampart_server import request, tool_call


def discover():
    return request("server/discover")


def unsigned(claims, alg="none"):
    header = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    return header, payload


def hs256_with_key(claims, key):
    header, payload = unsigned(claims, alg="HS256")
    signature = hmac.new(key, header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def assert_unauthorized(response, server, token_sent=True):
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    assert f'resource_metadata="{server.base}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert ('error="invalid_token"' in challenge) == token_sent
    assert response.json()["error"]["code"] == -31401


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_every_supported_algorithm_is_accepted(server, tenants, alg):
    response = server.post(discover(), token=server.token(tenants[0], alg=alg))
    assert response.status_code == 200, response.text
    assert response.json()["result"]["supportedVersions"] == ["2026-07-28"]


def test_no_token(server, tenants):
    assert_unauthorized(server.post(discover()), server, token_sent=False)


def test_bad_tokens_are_all_401(server, tenants, keys):
    tenant = tenants[0]
    claims = server.claims(tenant)
    good = server.token(tenant)
    header, payload = unsigned(claims)
    forged_signature = good.rsplit(".", 1)[0] + "." + base64.urlsafe_b64encode(b"x" * 32).rstrip(b"=").decode()
    cases = {
        "bad signature": forged_signature,
        "signed with another secret": jwt.encode(claims, "another-secret-of-at-least-32-bytes!", algorithm="HS256"),
        "expired": server.token(tenant, exp=int(time.time()) - 120, nbf=int(time.time()) - 600),
        "not yet valid": server.token(tenant, nbf=int(time.time()) + 600),
        "wrong audience": server.token(tenant, aud="https://elsewhere.example/mcp"),
        "wrong issuer": server.token(tenant, iss="https://evil.example"),
        "alg none": (header + b"." + payload + b".").decode(),
        "HS256 signed with the RSA public key": hs256_with_key(claims, keys.rsa_public_pem()),
        "unknown tenant": server.token("no-such-tenant"),
        "no sub": server.token(tenant, sub=None),
        "no tenant claim": server.token(tenant, tenant_id=None),
        "no exp": server.token(tenant, exp=None),
        "unknown kid": jwt.encode(claims, keys.rsa, algorithm="RS256", headers={"kid": "nope"}),
        "RS256 key used as ES256": jwt.encode(claims, keys.ec, algorithm="ES256", headers={"kid": "rsa-1"}),
        "garbage": "not.a.token",
    }
    for reason, token in cases.items():
        response = server.post(discover(), token=token)
        assert response.status_code == 401, f"{reason}: {response.status_code} {response.text}"
        assert_unauthorized(response, server)


def test_a_token_in_the_query_string_is_refused(server, tenants):
    token = server.token(tenants[0])
    response = httpx.post(f"{server.url}?access_token={token}", json=discover(), timeout=10, headers={
        "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover", "Authorization": f"Bearer {token}"})
    assert_unauthorized(response, server)


def test_a_suspended_tenant_gets_403(server, tenants):
    tenant = tenants[1]
    token = server.token(tenant)
    assert server.post(discover(), token=token).status_code == 200
    assert run("admin", "tenant", "suspend", tenant).returncode == 0
    time.sleep(0.6)  # the per-process tenant cache lives 500 ms
    response = server.post(discover(), token=token)
    assert response.status_code == 403, response.text
    assert run("admin", "tenant", "resume", tenant).returncode == 0
    time.sleep(0.6)
    assert server.post(discover(), token=token).status_code == 200


def test_a_missing_scope_gets_403_with_the_challenge(server, tenants):
    tenant = tenants[0]
    token = server.token(tenant, scope="resources:read")
    call = tool_call("write_resource", {"uri": f"tenant://{tenant}/notes/x", "content": {"a": 1}})
    response = server.post(call, token=token)
    assert response.status_code == 403, response.text
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="resources:write"' in challenge
    assert "resource_metadata=" in challenge
    assert response.json()["error"]["data"] == {"requiredScopes": ["resources:write"]}


def test_effective_scopes_are_the_token_scopes_within_the_tenant_grants(server, tenants):
    tenant = tenants[0]
    assert run("admin", "scope", "revoke", tenant, "resources:write").returncode == 0
    time.sleep(0.6)
    call = tool_call("write_resource", {"uri": f"tenant://{tenant}/notes/x", "content": {"a": 1}})
    assert server.post(call, token=server.token(tenant)).status_code == 403
    listed = server.post(request("tools/list"), token=server.token(tenant)).json()["result"]["tools"]
    assert "write_resource" not in [tool["name"] for tool in listed]


def test_protected_resource_metadata_at_both_paths(server):
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        response = httpx.get(server.base + path, timeout=10)
        assert response.status_code == 200
        assert response.json() == {
            "resource": server.url,
            "authorization_servers": ["https://issuer.example"],
            "scopes_supported": ["resources:read", "resources:search", "resources:write", "resources:query",
                                 "pii:read"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Rampart",
        }


def test_a_jwks_url_is_refetched_for_an_unknown_kid_at_most_every_30_seconds(keys, tenants, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from rampart_server import RampartServer, b64url

    published = json.load(open(keys.path))
    keyserver = KeyServer(published)
    fetches = keyserver.fetches
    server = RampartServer(keys, extra_env={"RAMPART_JWKS_FILE": None, "RAMPART_JWKS_URL": keyserver.url})
    try:
        assert len(fetches) == 1
        assert server.post(request("server/discover"), token=server.token(tenants[0], alg="ES256")).status_code == 200

        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = rotated.public_key().public_numbers()
        published["keys"].append({"kty": "RSA", "kid": "rsa-2", "alg": "RS256",
                                  "n": b64url(numbers.n.to_bytes(256, "big")), "e": b64url(numbers.e.to_bytes(3, "big"))})
        new_token = jwt.encode(server.claims(tenants[0]), rotated, algorithm="RS256", headers={"kid": "rsa-2"})
        for _ in range(10):
            assert server.post(request("server/discover"), token=new_token).status_code == 401
        assert len(fetches) == 1, "unknown kids must not trigger a fetch within 30 s of the last one"

        time.sleep(31)
        assert server.post(request("server/discover"), token=new_token).status_code == 200
        assert len(fetches) == 2
    finally:
        server.stop()
        keyserver.stop()


class KeyServer:
    """A JWKS endpoint on loopback whose answers a test controls: body, status, headers."""

    def __init__(self, document):
        import http.server
        import threading

        self.document, self.status, self.headers, self.fetches = document, 200, {}, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.fetches.append(time.monotonic())
                body = owner.body() if callable(owner.body) else json.dumps(owner.document).encode()
                self.send_response(owner.status)
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.body = None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def stop(self):
        self.httpd.shutdown()


def test_a_withdrawn_key_stops_being_trusted_on_the_timer(keys, tenants):
    from rampart_server import RampartServer

    published = json.load(open(keys.path))
    keyserver = KeyServer(published)
    keyserver.headers = {"Cache-Control": "max-age=1"}  # held to the 10 s minimum
    server = RampartServer(keys, extra_env={"RAMPART_JWKS_FILE": None, "RAMPART_JWKS_URL": keyserver.url})
    try:
        token = server.token(tenants[0], alg="ES256")
        assert server.post(discover(), token=token).status_code == 200
        published["keys"] = [k for k in published["keys"] if k["kid"] != "ec-1"]  # withdrawn after a compromise
        time.sleep(13)
        assert len(keyserver.fetches) >= 2
        # The token is cached as verified until it expires, so a fresh one of the same key shows it.
        assert_unauthorized(server.post(discover(), token=server.token(tenants[0], alg="ES256")), server)
        assert server.post(discover(), token=server.token(tenants[0], alg="RS256")).status_code == 200
        gaps = [b - a for a, b in zip(keyserver.fetches, keyserver.fetches[1:])]
        assert all(gap >= 9 for gap in gaps), gaps
    finally:
        server.stop()
        keyserver.stop()


def test_jwks_fetches_follow_no_redirect_and_read_at_most_a_mebibyte(keys, tenants):
    from rampart_server import RampartServer

    target = KeyServer(json.load(open(keys.path)))
    redirect = KeyServer({})
    redirect.status, redirect.headers = 302, {"Location": target.url}
    huge = KeyServer({})
    huge.body = lambda: b'{"keys": [], "padding": "' + b"x" * (2 << 20) + b'"}'
    try:
        for source in (redirect, huge):
            server = RampartServer(keys, extra_env={"RAMPART_JWKS_FILE": None, "RAMPART_JWKS_URL": source.url})
            try:
                assert_unauthorized(server.post(discover(), token=server.token(tenants[0], alg="RS256")), server)
            finally:
                server.stop()
        assert target.fetches == []
    finally:
        for keyserver in (target, redirect, huge):
            keyserver.stop()


def serve_refusal(**env):
    import subprocess

    from conftest import BIN, env_without_rampart, free_port
    values = {"RAMPART_DATABASE_URL": "postgres://nobody@127.0.0.1:1/x", "RAMPART_JWT_ISSUERS": "https://a.example",
              "RAMPART_METRICS_LISTEN": f"127.0.0.1:{free_port()}", "RAMPART_LISTEN": f"127.0.0.1:{free_port()}"}
    values.update(env)
    result = subprocess.run([BIN, "serve"], env=env_without_rampart(**values), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    return result.stderr.strip().splitlines()[-1]


def test_unsafe_key_configurations_are_refused_at_start(keys):
    secret = "s" * 40
    assert "RAMPART_JWKS_URL: must be https://" in serve_refusal(RAMPART_JWKS_URL="http://keys.example/jwks.json")
    two = {"RAMPART_JWT_ISSUERS": "https://a.example,https://b.example", "RAMPART_JWT_HS256_SECRET": secret,
           "RAMPART_JWKS_FILE": keys.path}
    assert "RAMPART_JWT_HS256_ISSUERS: required" in serve_refusal(**two)
    assert "is not in RAMPART_JWT_ISSUERS" in serve_refusal(**two, RAMPART_JWT_HS256_ISSUERS="https://c.example",
                                                            RAMPART_JWKS_ISSUERS="https://b.example")
    assert "RAMPART_JWT_ISSUER_TENANTS" in serve_refusal(RAMPART_JWT_HS256_SECRET=secret,
                                                         RAMPART_JWT_ISSUER_TENANTS="https://a.example=BAD!")


def test_each_issuer_is_bound_to_its_keys_and_tenants(keys, tenants):
    from rampart_server import ISSUER, RampartServer
    a, b = tenants
    lab = "https://lab.example"
    server = RampartServer(keys, extra_env={
        "RAMPART_JWT_ISSUERS": f"{ISSUER},{lab}",
        "RAMPART_JWKS_ISSUERS": ISSUER,        # production: the JWKS keys, any tenant
        "RAMPART_JWT_HS256_ISSUERS": lab,      # a test secret: only the lab issuer, only tenant a
        "RAMPART_JWT_ISSUER_TENANTS": f"{lab}=zz-nobody {a}",
    })
    try:
        assert server.post(discover(), token=server.token(b, alg="RS256")).status_code == 200
        assert server.post(discover(), token=server.token(a, iss=lab)).status_code == 200
        # The weak secret cannot mint tokens of the production issuer, nor for another tenant.
        assert_unauthorized(server.post(discover(), token=server.token(b)), server)
        assert_unauthorized(server.post(discover(), token=server.token(b, iss=lab)), server)
        # Nor can a production key speak for the lab issuer.
        assert_unauthorized(server.post(discover(), token=server.token(a, alg="ES256", iss=lab)), server)
    finally:
        server.stop()


def test_user_budgets_are_kept_per_issuer(keys, tenants):
    from rampart_server import ISSUER, RampartServer
    a, _ = tenants
    other = "https://other.example"
    server = RampartServer(keys, extra_env={"RAMPART_JWT_ISSUERS": f"{ISSUER},{other}",
                                            "RAMPART_JWKS_ISSUERS": f"{ISSUER},{other}",
                                            "RAMPART_JWT_HS256_ISSUERS": f"{ISSUER},{other}"})
    try:
        assert run("admin", "budget", "set", a, "--daily", "2", "--user", "alice").returncode == 0
        read = tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"})
        mine = [server.post(read, token=server.token(a, sub="alice")).status_code for _ in range(3)]
        theirs = [server.post(read, token=server.token(a, sub="alice", iss=other)).status_code for _ in range(3)]
        assert mine == theirs == [200, 200, 429], (mine, theirs)
        total = json.loads(run("admin", "budget", "show", a, "--user", "alice", "--json").stdout)
        assert (total["limit"], total["spent"]) == (2, 4)
        one = json.loads(run("admin", "budget", "show", a, "--user", "alice", "--issuer", other, "--json").stdout)
        assert (one["issuer"], one["spent"]) == (other, 2)
    finally:
        server.stop()

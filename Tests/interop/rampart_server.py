"""A real `rampart serve` for black-box tests: its keys (an HS256 secret and a JWKS file with
RS256, ES256 and EdDSA keys), its tenants, token minting and raw JSON-RPC posts."""
import base64
import json
import os
import subprocess
import time
import uuid

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from conftest import BIN, admin_env, env_without_rampart, free_port, run

ISSUER = "https://issuer.example"
SECRET = "interop-secret-" + "s" * 32
ALL_SCOPES = "resources:read resources:search resources:write resources:query pii:read"
MODERN = "2026-07-28"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "interop", "version": "1"},
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    """One key of each asymmetric algorithm, published as a JWKS file."""

    def __init__(self, directory):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        rsa_numbers = self.rsa.public_key().public_numbers()
        ec_numbers = self.ec.public_key().public_numbers()
        ed_raw = self.ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwks = {"keys": [
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
             "n": b64url(rsa_numbers.n.to_bytes(256, "big")), "e": b64url(rsa_numbers.e.to_bytes(3, "big"))},
            {"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
             "x": b64url(ec_numbers.x.to_bytes(32, "big")), "y": b64url(ec_numbers.y.to_bytes(32, "big"))},
            {"kty": "OKP", "kid": "ed-1", "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": b64url(ed_raw)},
        ]}
        self.path = os.path.join(directory, "jwks.json")
        with open(self.path, "w") as handle:
            json.dump(jwks, handle)

    def rsa_public_pem(self):
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def create_tenant(tenant, scopes=ALL_SCOPES, documents=()):
    result = run("admin", "tenant", "create", tenant, "--scopes", scopes)
    assert result.returncode == 0, result.stderr
    for uri, body in documents:
        result = run("admin", "resource", "put", uri, "--data", json.dumps(body))
        assert result.returncode == 0, result.stderr


class RampartServer:
    def __init__(self, keys, port=None, extra_env=None):
        self.keys = keys
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/mcp"
        self.metrics_listen = f"127.0.0.1:{free_port()}"
        env = env_without_rampart(
            RAMPART_DATABASE_URL=os.environ["TEST_DATABASE_URL"],
            RAMPART_LISTEN=f"127.0.0.1:{self.port}",
            RAMPART_METRICS_LISTEN=self.metrics_listen,
            RAMPART_JWT_ISSUERS=ISSUER,
            RAMPART_JWT_HS256_SECRET=SECRET,
            RAMPART_JWKS_FILE=keys.path,
        )
        # The suite's own settings for every server (ops/test behind PgBouncer), then the test's.
        env.update(json.loads(os.environ.get("TEST_SERVER_ENV", "{}")))
        env.update(extra_env or {})
        env = {key: value for key, value in env.items() if value is not None}
        self.log = open(os.path.join(os.path.dirname(keys.path), f"serve-{self.port}.log"), "w")
        self.process = subprocess.Popen([BIN, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, "rampart serve exited during start-up"
            time.sleep(0.2)
        raise AssertionError("rampart serve never became ready")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.log.close()

    def claims(self, tenant, sub="alice", scope=ALL_SCOPES, **overrides):
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": self.url, "sub": sub, "tenant_id": tenant, "scope": scope,
                  "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, tenant, alg="HS256", **overrides):
        claims = self.claims(tenant, **overrides)
        if alg == "HS256":
            return jwt.encode(claims, SECRET, algorithm="HS256")
        key, kid = {"RS256": (self.keys.rsa, "rsa-1"), "ES256": (self.keys.ec, "ec-1"),
                    "EdDSA": (self.keys.ed, "ed-1")}[alg]
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def post(self, body, token=None, version=MODERN, method=None, name=None, headers=None, raw=None):
        """POSTs one JSON-RPC message with the headers a modern client sends (unless told)."""
        sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if version:
            sent["MCP-Protocol-Version"] = version
        modern = bool(version) and not version.startswith("2025-")
        if modern and (method or isinstance(body, dict)):
            sent["Mcp-Method"] = method or body.get("method", "")
        if modern and name is not None:
            sent["Mcp-Name"] = name
        elif modern and isinstance(body, dict) and body.get("method") == "tools/call":
            sent["Mcp-Name"] = body["params"]["name"]
        elif modern and isinstance(body, dict) and body.get("method") == "resources/read":
            sent["Mcp-Name"] = body["params"]["uri"]
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v is not None}
        content = raw if raw is not None else json.dumps(body)
        return httpx.post(self.url, content=content, headers=sent, timeout=30)


def request(method, params=None, id=1, modern=True):
    params = dict(params or {})
    if modern:
        params["_meta"] = dict(ENVELOPE)
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def tool_call(name, arguments, id=1, modern=True):
    return request("tools/call", {"name": name, "arguments": arguments}, id=id, modern=modern)

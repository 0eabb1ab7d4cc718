"""CONTRACT.md §3: every admin command, its JSON output, exit codes and one-line errors."""
import json
import os
import time

import jwt
import pytest

from conftest import admin_env, env_without_rampart, one_error_line, run


def ok(*args, **kw):
    result = run(*args, **kw)
    assert result.returncode == 0, result.stderr
    return result


def test_tenant_lifecycle(tenant):
    created = json.loads(ok("admin", "tenant", "create", tenant, "--name", "Acme Corp", "--daily-budget", "500",
                            "--scopes", "resources:read resources:search", "--json").stdout)
    assert created[0]["id"] == tenant
    assert created[0]["scopes"] == ["resources:read", "resources:search"]
    assert created[0]["dailyBudget"] == 500

    listed = json.loads(ok("admin", "tenant", "list", "--json").stdout)
    assert tenant in [t["id"] for t in listed]
    assert tenant in ok("admin", "tenant", "list").stdout

    assert json.loads(ok("admin", "tenant", "suspend", tenant, "--json").stdout)[0]["status"] == "suspended"
    assert json.loads(ok("admin", "tenant", "show", tenant, "--json").stdout)["status"] == "suspended"
    assert json.loads(ok("admin", "tenant", "resume", tenant, "--json").stdout)[0]["status"] == "active"


def test_scopes(tenant):
    ok("admin", "tenant", "create", tenant, "--scopes", "resources:read")
    granted = json.loads(ok("admin", "scope", "grant", tenant, "resources:write", "pii:read", "--json").stdout)
    assert granted["scopes"] == ["pii:read", "resources:read", "resources:write"]
    revoked = json.loads(ok("admin", "scope", "revoke", tenant, "pii:read", "--json").stdout)
    assert revoked["scopes"] == ["resources:read", "resources:write"]
    assert ok("admin", "scope", "list", tenant).stdout.split() == ["resources:read", "resources:write"]


def test_resources(tenant, tmp_path):
    ok("admin", "tenant", "create", tenant)
    uri = f"tenant://{tenant}/sales/q1"
    put = json.loads(ok("admin", "resource", "put", uri, "--data", '{"title": "Q1", "amount": 10}', "--json").stdout)
    assert put == {"uri": uri, "version": 1, "created": True}
    doc = tmp_path / "q1.json"
    doc.write_text('{"title": "Q1 again"}')
    put = json.loads(ok("admin", "resource", "put", uri, "--file", str(doc), "--json").stdout)
    assert put["version"] == 2 and put["created"] is False

    got = json.loads(ok("admin", "resource", "get", uri, "--json").stdout)
    assert got["content"] == {"title": "Q1 again"} and got["version"] == 2

    lines = tmp_path / "docs.jsonl"
    lines.write_text('{"id": "a1", "n": 1}\n\n{"id": "a2", "n": 2}\n')
    ok("admin", "resource", "import", tenant, "hr", str(lines))
    listed = json.loads(ok("admin", "resource", "list", tenant, "--json").stdout)
    assert [d["uri"] for d in listed] == [f"tenant://{tenant}/hr/a1", f"tenant://{tenant}/hr/a2", uri]
    assert [d["uri"] for d in json.loads(ok("admin", "resource", "list", tenant, "hr", "--json").stdout)] == [
        f"tenant://{tenant}/hr/a1", f"tenant://{tenant}/hr/a2"]
    # The import key is not stored in the document.
    assert json.loads(ok("admin", "resource", "get", f"tenant://{tenant}/hr/a1", "--json").stdout)["content"] == {"n": 1}


@pytest.mark.parametrize("args,needle", [
    (["admin", "tenant", "show", "ghost-tenant-x"], "unknown tenant"),
    (["admin", "tenant", "suspend", "ghost-tenant-x"], "unknown tenant"),
    (["admin", "tenant", "create", "ACME"], "invalid tenant id"),
    (["admin", "tenant", "create", "ok-id", "--scopes", "resources:everything"], "unknown scope"),
    (["admin", "scope", "grant", "ghost-tenant-x", "resources:read"], "unknown tenant"),
    (["admin", "resource", "put", "tenant://ghost-tenant-x/sales/q1", "--data", "{}"], "unknown tenant"),
    (["admin", "resource", "put", "file:///etc/passwd", "--data", "{}"], "invalid resource URI"),
    (["admin", "resource", "get", "tenant://acme/../globex/x"], "invalid"),
])
def test_bad_input_is_one_clear_line_and_exit_1(args, needle):
    result = run(*args)
    assert result.returncode == 1
    assert needle in one_error_line(result)
    assert result.stdout == ""


def test_existing_tenant_is_refused(tenant):
    ok("admin", "tenant", "create", tenant)
    result = run("admin", "tenant", "create", tenant)
    assert result.returncode == 1
    assert "already exists" in one_error_line(result)


def test_malformed_json_writes_nothing(tenant, tmp_path):
    ok("admin", "tenant", "create", tenant)
    for data in ['{"title": ', '[1, 2]', '"text"']:
        result = run("admin", "resource", "put", f"tenant://{tenant}/sales/q1", "--data", data)
        assert result.returncode == 1
        one_error_line(result)
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"id": "a1"}\n{"id": "a2"\n')
    result = run("admin", "resource", "import", tenant, "sales", str(lines))
    assert result.returncode == 1 and "line 2" in one_error_line(result)
    lines.write_text('{"id": "a1"}\n{"id": "bad id!"}\n')
    assert run("admin", "resource", "import", tenant, "sales", str(lines)).returncode == 1
    assert json.loads(ok("admin", "resource", "list", tenant, "--json").stdout) == []


def test_usage_errors_exit_2():
    for args in (["admin", "tenant", "create"], ["admin", "tenant", "show", "a", "b"], ["admin", "frobnicate"], ["serve", "--nope"]):
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        one_error_line(result)


def test_missing_database_url_names_the_key():
    result = run("admin", "tenant", "list", env=env_without_rampart())
    assert result.returncode == 1
    assert "RAMPART_ADMIN_DATABASE_URL" in one_error_line(result)


def test_token_mint():
    secret = "s" * 40
    env = env_without_rampart(RAMPART_JWT_HS256_SECRET=secret, RAMPART_JWT_ISSUERS="https://issuer.example")
    result = run("token", "mint", "--tenant", "acme", "--sub", "alice", "--scope", "resources:read",
                 "--ttl", "120", "--claim", "rampart_scope=[\"tenant://acme/sales/*\"]", "--claim", "team=blue",
                 env=env)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"], audience="http://127.0.0.1:8080/mcp")
    assert claims["iss"] == "https://issuer.example"
    assert claims["sub"] == "alice" and claims["tenant_id"] == "acme"
    assert claims["scope"] == "resources:read"
    assert claims["rampart_scope"] == ["tenant://acme/sales/*"] and claims["team"] == "blue"
    assert 110 <= claims["exp"] - time.time() <= 121 and isinstance(claims["exp"], int)
    assert claims["jti"]

    short = run("token", "mint", "--tenant", "acme", "--sub", "a", env=env_without_rampart(RAMPART_JWT_HS256_SECRET="short"))
    assert short.returncode == 1 and "RAMPART_JWT_HS256_SECRET" in one_error_line(short)
    bad_tenant = run("token", "mint", "--tenant", "ACME", "--sub", "a", env=env)
    assert bad_tenant.returncode == 1 and "invalid tenant id" in one_error_line(bad_tenant)


@pytest.mark.parametrize("args, needle", [
    (["admin", "redact", "detect", "some-tenant", "maybe"], "redact detect"),
    (["admin", "redact", "add", "some-tenant", "hr", "ssn", "--action", "erase"], "redact add"),
    (["admin", "cost", "set", "delete_everything", "5"], "cost set"),
])
def test_a_value_outside_an_enumerated_argument_is_a_usage_error(args, needle):
    result = run(*args)
    assert result.returncode == 2, (args, result.stderr)
    line = one_error_line(result)
    assert "usage: rampart admin " + needle in line, line

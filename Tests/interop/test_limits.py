"""Rate limits and budgets (CONTRACT.md §10), exact across two server processes under 64
concurrent callers; rotation cannot escape the user limit; without the database, 503."""
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cluster import OwnCluster
from conftest import run
from rampart_server import RampartServer, tool_call

HIGH = "1000000"


def set_limits(tenant_id, **limits):
    args = ["admin", "limits", "set", tenant_id]
    for name in ("tenant", "user", "conversation", "resource"):
        args += [f"--{name}-per-minute", str(limits.get(name, HIGH))]
    args += ["--conversations-per-user-per-minute", str(limits.get("creation", HIGH))]
    result = run(*args)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def pair(server, keys):
    """A second process behind the same public URL (so tokens are valid on both)."""
    second = RampartServer(keys, extra_env={"RAMPART_PUBLIC_URL": server.url})
    yield server, second
    second.stop()


def post(target, token, body):
    headers = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28",
               "Mcp-Method": body["method"], "Content-Type": "application/json"}
    if body["method"] == "tools/call":
        headers["Mcp-Name"] = body["params"]["name"]
    return httpx.post(target, json=body, headers=headers, timeout=30)


def storm(pair, calls):
    """Runs (token, body) calls from 64 threads, alternating the two processes."""
    targets = [pair[0].url.replace(str(pair[0].port), str(process.port)) for process in pair]
    with ThreadPoolExecutor(64) as pool:
        started = time.monotonic()
        responses = list(pool.map(lambda item: post(targets[item[0] % 2], *item[1]), enumerate(calls)))
        return responses, time.monotonic() - started


def admitted(responses):
    ok = [r for r in responses if r.status_code == 200 and not r.json()["result"].get("isError")]
    refused = [r for r in responses if r.status_code == 429]
    assert len(ok) + len(refused) == len(responses), [r.text for r in responses if r not in ok + refused][:3]
    return ok, refused


@pytest.mark.parametrize("kind", ["tenant", "user", "conversation", "resource"])
def test_no_limit_is_exceeded_across_processes(server, pair, tenants, kind):
    a, _ = tenants
    limit = 12
    set_limits(a, **{kind: limit})
    read = lambda doc: tool_call("read_resource", {"uri": f"tenant://{a}/sales/{doc}"})
    if kind == "tenant":    # many users, each with its own token and documents
        calls = [(server.token(a, sub=f"u{i}"), read(f"q{i % 3 + 1}")) for i in range(128)]
    elif kind == "user":    # one user, a fresh token (so a fresh implicit conversation) per call
        calls = [(server.token(a, sub="alice"), read(f"q{i % 3 + 1}")) for i in range(128)]
    elif kind == "conversation":  # one token: one implicit conversation
        token = server.token(a)
        calls = [(token, read(f"q{i % 3 + 1}")) for i in range(128)]
    else:                    # one document, many users
        calls = [(server.token(a, sub=f"u{i}"), read("q1")) for i in range(128)]
    responses, elapsed = storm(pair, calls)
    ok, refused = admitted(responses)
    ceiling = limit + int(elapsed * limit / 60) + 1
    assert limit <= len(ok) <= ceiling, (len(ok), elapsed)
    for response in refused:
        error = response.json()["error"]
        assert error["code"] == -32050 and error["data"]["limit"] == kind, error
        assert int(response.headers["retry-after"]) >= 1 and error["data"]["retryAfterMs"] > 0


def test_a_budget_admits_exactly_its_units(server, pair, tenants):
    a, _ = tenants
    set_limits(a)
    assert run("admin", "budget", "set", a, "--daily", "10").returncode == 0
    missing = post(server.url, server.token(a), tool_call("read_resource", {"uri": f"tenant://{a}/sales/none"}))
    assert missing.json()["result"]["isError"]  # a failed call is not charged
    calls = [(server.token(a, sub=f"u{i}"), tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}))
             for i in range(64)]
    responses, _ = storm(pair, calls)
    ok, refused = admitted(responses)
    assert len(ok) == 10
    error = refused[0].json()["error"]
    assert error["code"] == -32051 and error["data"]["budget"] == "tenant" and error["data"]["resetsAt"].endswith("Z")
    shown = json.loads(run("admin", "budget", "show", a, "--json").stdout)
    assert (shown["limit"], shown["spent"], shown["tenant"]) == (10, 10, a)
    events = [json.loads(line) for line in run("audit", "export", "--tenant", a).stdout.splitlines()]
    charged = [e for e in events if e["tool"] == "read_resource" and e["decision"] == "allow"]
    assert len(charged) == 10 and all(e["cost"] == 1 for e in charged)


def test_a_user_budget_and_tenant_costs(server, tenants):
    a, _ = tenants
    set_limits(a)
    assert run("admin", "budget", "set", a, "--daily", "5", "--user", "alice").returncode == 0
    assert run("admin", "cost", "set", "read_resource", "2", "--tenant", a).returncode == 0
    token = server.token(a, sub="alice")
    results = [post(server.url, token, tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}))
               for _ in range(4)]
    assert [r.status_code for r in results] == [200, 200, 429, 429]
    assert results[2].json()["error"]["data"]["budget"] == "user"
    shown = json.loads(run("admin", "budget", "show", a, "--user", "alice", "--json").stdout)
    assert (shown["user"], shown["limit"], shown["spent"]) == ("alice", 5, 4)
    bob = post(server.url, server.token(a, sub="bob"), tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}))
    assert bob.status_code == 200


def test_rotating_conversations_does_not_escape_the_user_limit(server, tenants):
    a, _ = tenants
    set_limits(a)
    token = server.token(a, sub="rotor")
    handles = [post(server.url, token, tool_call("open_conversation", {})).json()["result"]["structuredContent"]
               ["conversation"] for _ in range(30)]
    set_limits(a, user=8)  # takes effect at once (NOTIFY)
    ok = 0
    for index, handle in enumerate(handles):
        response = post(server.url, token, tool_call("read_resource", {
            "uri": f"tenant://{a}/sales/q{index % 3 + 1}", "conversation": handle}))
        if response.status_code == 200:
            ok += 1
        else:
            assert response.json()["error"]["data"]["limit"] == "user"
    fresh_tokens = [server.token(a, sub="rotor") for _ in range(10)]
    for fresh in fresh_tokens:  # new tokens mean new implicit conversations: still the same user
        assert post(server.url, fresh, tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"})).status_code == 429
    assert 8 <= ok <= 9


def test_without_the_database_calls_get_503_and_recover(keys, tmp_path):
    cluster = OwnCluster(prefix="rampart-outage-")
    try:
        tenant = cluster.new_tenant()
        server = RampartServer(keys, extra_env={"RAMPART_DATABASE_URL": cluster.app})
        try:
            token = server.token(tenant)
            call = tool_call("list_resources", {})
            assert post(server.url, token, call).status_code == 200
            cluster.stop()
            statuses = [post(server.url, token, call).status_code for _ in range(2)]
            assert statuses == [503, 503], statuses
            cluster.start()
            deadline = time.time() + 30
            while time.time() < deadline and post(server.url, token, call).status_code != 200:
                time.sleep(0.5)
            assert post(server.url, token, call).status_code == 200
        finally:
            server.stop()
    finally:
        cluster.destroy()

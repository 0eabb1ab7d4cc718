"""Hostile load leaves bounded state (issue 15, docs/limits.md "Bounded state"): forged tokens,
unknown conversation handles and session ids create nothing durable; calls naming random URIs
leave rate-limit cells only until their arrival time passes, and the sweep removes them."""
import os
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt

from conftest import run
from rampart_server import ISSUER, RampartServer, create_tenant, request, tool_call

CALLS = 1500


def psql(url, sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def superuser(sql):
    return psql(os.environ["TEST_SUPERUSER_URL"], sql)


def rows(table, tenant):
    return int(superuser(f"SELECT count(*) FROM rampart.{table} WHERE tenant_id = '{tenant}'"))


def rss_mb(process):
    with open(f"/proc/{process.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def post(server, token, body, headers=None, client=httpx):
    sent = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": body["method"],
            "Content-Type": "application/json", **(headers or {})}
    if body["method"] == "tools/call":
        sent["Mcp-Name"] = body["params"]["name"]
    return client.post(server.url, json=body, headers=sent, timeout=30)


def test_hostile_calls_leave_no_state_behind(server):
    tenant = f"bs-{uuid.uuid4().hex[:8]}"
    create_tenant(tenant, documents=[(f"tenant://{tenant}/notes/real", {"x": 1})])
    assert run("admin", "limits", "set", tenant, "--tenant-per-minute", "1000000", "--user-per-minute", "1000000",
               "--conversation-per-minute", "1000000", "--resource-per-minute", "1000000").returncode == 0
    token = server.token(tenant)
    forged = jwt.encode(server.claims(tenant), "not-the-secret-" * 3, algorithm="HS256")
    assert post(server, token, tool_call("list_resources", {})).status_code == 200  # the implicit conversation
    baseline = {table: rows(table, tenant) for table in ("conversations", "rate_limit_cells")}
    rss_before = rss_mb(server)

    def hostile(i):
        kind = i % 4
        if kind == 0:   # a forged token
            return post(server, forged, tool_call("read_resource", {"uri": f"tenant://{tenant}/notes/real"})).status_code
        if kind == 1:   # an unknown conversation handle
            return post(server, token, tool_call("read_resource", {"uri": f"tenant://{tenant}/notes/real",
                                                                   "conversation": f"c-{uuid.uuid4().hex}"})).status_code
        if kind == 2:   # an unknown handshake session id
            body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "list_resources", "arguments": {}}}
            return httpx.post(server.url, json=body, timeout=30, headers={
                "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-11-25",
                "Mcp-Session-Id": uuid.uuid4().hex, "Accept": "application/json, text/event-stream"}).status_code
        # a random URI of the tenant (a resource cell each, until its arrival time passes)
        return post(server, token, tool_call("read_resource", {"uri": f"tenant://{tenant}/notes/{uuid.uuid4().hex}"})
                    ).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(hostile, range(CALLS)))
    assert set(statuses) <= {200, 401, 404}, sorted(set(statuses))
    assert statuses.count(401) == CALLS // 4 and statuses.count(404) == CALLS // 4
    assert rows("conversations", tenant) == baseline["conversations"]
    random_uris = CALLS // 4
    assert rows("rate_limit_cells", tenant) <= baseline["rate_limit_cells"] + random_uris + 1
    # Each random URI's cell is idle after 60 s / 1,000,000 calls a minute: the sweep takes them.
    psql(os.environ["TEST_DATABASE_URL"], "SELECT rampart.sweep_rate_cells(100000)")  # as the server's role
    assert rows("rate_limit_cells", tenant) <= baseline["rate_limit_cells"] + 4
    assert rss_mb(server) < max(rss_before * 1.5, rss_before + 50)


def test_fresh_tokens_and_unknown_tenants_keep_the_caches_bounded(server):
    """12,000 valid tokens never seen before — half of them for tenants that do not exist — pass
    the verified-token cache's 10,000 entries and the tenant cache's: both stay bounded, nothing
    is created for an unknown tenant, and a known tenant's calls go on."""
    tenant = f"bt-{uuid.uuid4().hex[:8]}"
    create_tenant(tenant, documents=[(f"tenant://{tenant}/notes/real", {"x": 1})])
    assert run("admin", "limits", "set", tenant, "--tenant-per-minute", "1000000", "--user-per-minute", "1000000",
               "--conversation-per-minute", "1000000", "--resource-per-minute", "1000000").returncode == 0
    assert post(server, server.token(tenant), tool_call("list_resources", {})).status_code == 200
    rss_before = rss_mb(server)
    total = 12_000

    local = threading.local()

    def fresh(i):
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=30)  # keep-alive: the tokens are what is new
        if i % 2:
            token, body = server.token(f"ghost-{uuid.uuid4().hex[:12]}", sub=f"s{i}"), tool_call("list_resources", {})
        else:
            token, body = server.token(tenant, sub=f"s{i}"), request("tools/list", id=i)
        return post(server, token, body, client=local.client).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(fresh, range(total)))
    assert statuses.count(401) == total // 2 and statuses.count(200) == total // 2, sorted(set(statuses))
    assert int(superuser("SELECT count(*) FROM rampart.tenants WHERE tenant_id LIKE 'ghost-%'")) == 0
    assert int(superuser("SELECT count(*) FROM rampart.conversations WHERE tenant_id LIKE 'ghost-%'")) == 0
    assert post(server, server.token(tenant), tool_call("read_resource", {"uri": f"tenant://{tenant}/notes/real"})
                ).status_code == 200
    assert rss_mb(server) < rss_before + 60, (rss_before, rss_mb(server))

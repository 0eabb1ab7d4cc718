"""Failures (CONTRACT.md §13): every request is answered within its deadline whatever the database
does, and a call answered 503 has had no effect — nothing written, nothing charged, no `allow`
event. Checked with a row lock held by another session past the deadline, and with PostgreSQL
stopped under load (`pg_ctl stop -m fast` and `-m immediate`) and started again."""
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cluster import OwnCluster
from conftest import run
from rampart_server import RampartServer, tool_call

DEADLINE = 8.0
HIGH = "1000000"


def post(server, token, body, timeout=30):
    headers = {"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28",
               "Mcp-Method": body["method"], "Mcp-Name": body["params"]["name"], "Content-Type": "application/json"}
    started = time.monotonic()
    try:
        response = httpx.post(server.url, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        return None, time.monotonic() - started, repr(error)
    return response, time.monotonic() - started, None


def succeeded(response):
    return response is not None and response.status_code == 200 and not response.json()["result"].get("isError")


def admin(*args):
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def superuser_psql(sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", os.environ["TEST_SUPERUSER_URL"], "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def raise_limits(rampart, tenant):
    rampart("admin", "limits", "set", tenant, "--tenant-per-minute", HIGH, "--user-per-minute", HIGH,
            "--conversation-per-minute", HIGH, "--resource-per-minute", HIGH,
            "--conversations-per-user-per-minute", HIGH)


def ledger(psql, tenant):
    """(units spent today, units of the allow events) for the tenant."""
    spent = int(psql(f"SELECT coalesce(sum(spent), 0) FROM rampart.budget_usage "
                     f"WHERE tenant_id = '{tenant}' AND subject = ''"))
    audited = int(psql(f"SELECT coalesce(sum(cost), 0) FROM rampart.audit_events "
                       f"WHERE tenant_id = '{tenant}' AND decision = 'allow'"))
    return spent, audited


class LockHolder:
    """A psql session that holds row locks in an open transaction until released."""

    def __init__(self, url, sql):
        self.process = subprocess.Popen(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.process.stdin.write(f"BEGIN;\n{sql};\nSELECT 'locked';\n")
        self.process.stdin.flush()
        while self.process.stdout.readline().strip() != "locked":
            assert self.process.poll() is None, "psql exited before taking the lock"

    def release(self):
        self.process.communicate("ROLLBACK;\n", timeout=10)


def test_a_call_blocked_past_the_deadline_gets_503_and_has_no_effect(server, tenants):
    a, _ = tenants
    raise_limits(admin, a)
    admin("admin", "budget", "set", a, "--daily", "1000")
    first, _, _ = post(server, server.token(a, sub="first"), tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}))
    assert succeeded(first)
    holder = LockHolder(os.environ["TEST_SUPERUSER_URL"], f"SELECT 1 FROM rampart.budget_usage WHERE tenant_id = '{a}' FOR UPDATE")
    try:
        calls = [tool_call("read_resource", {"uri": f"tenant://{a}/sales/q{i % 3 + 1}"}) for i in range(4)]
        calls.append(tool_call("write_resource", {"uri": f"tenant://{a}/sales/q1", "content": {"late": True}}))
        with ThreadPoolExecutor(len(calls)) as pool:
            results = list(pool.map(lambda item: post(server, server.token(a, sub=f"u{item[0]}"), item[1]),
                                    enumerate(calls)))
    finally:
        holder.release()
    for response, elapsed, failure in results:
        assert failure is None, failure
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert elapsed <= DEADLINE + 1, elapsed
    spent, audited = ledger(superuser_psql, a)
    assert spent == audited == 1, (spent, audited)
    document = json.loads(admin("admin", "resource", "get", f"tenant://{a}/sales/q1", "--json"))
    assert "late" not in json.dumps(document)
    time.sleep(0.5)
    events = [json.loads(line) for line in admin("audit", "export", "--tenant", a).splitlines()]
    refused = [e for e in events if e["reason"] == "deadline exceeded"]
    assert len(refused) == len(calls), [e["reason"] for e in events]
    again, _, _ = post(server, server.token(a, sub="after"), tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}))
    assert succeeded(again)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgresql_stopped_under_load(keys, mode):
    cluster = OwnCluster(prefix=f"rampart-stop-{mode}-")
    try:
        tenant = cluster.new_tenant()
        raise_limits(cluster.rampart, tenant)
        cluster.rampart("admin", "budget", "set", tenant, "--daily", "1000000")
        cluster.rampart("admin", "resource", "put", f"tenant://{tenant}/sales/q1", "--data", '{"title": "Q1"}')
        server = RampartServer(keys, extra_env={"RAMPART_DATABASE_URL": cluster.app})
        try:
            tokens = [server.token(tenant, sub=f"u{i}") for i in range(8)]
            call = tool_call("read_resource", {"uri": f"tenant://{tenant}/sales/q1"})
            results, stop_load = [], threading.Event()

            def load(token):
                while not stop_load.is_set():
                    response, elapsed, failure = post(server, token, call)
                    results.append((time.monotonic(), response, elapsed, failure))

            threads = [threading.Thread(target=load, args=(token,)) for token in tokens]
            for thread in threads:
                thread.start()
            time.sleep(1.5)
            cluster.stop(mode)
            time.sleep(1)
            started = time.monotonic()
            ready = httpx.get(f"{server.base}/readyz", timeout=10)
            assert ready.status_code == 503 and time.monotonic() - started <= 2
            time.sleep(DEADLINE + 1)  # longer than the deadline: calls waiting for the database get 503
            cluster.start()
            back = time.monotonic()
            time.sleep(6)
            stop_load.set()
            for thread in threads:
                thread.join(timeout=30)
            assert httpx.get(f"{server.base}/readyz", timeout=10).status_code == 200
        finally:
            server.stop()
        statuses = {}
        for _, response, elapsed, failure in results:
            assert failure is None, failure
            assert elapsed <= DEADLINE + 1, elapsed
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code in (200, 503), response.text
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
        assert statuses.get(503), statuses
        recovered = [at for at, response, _, _ in results if at > back and succeeded(response)]
        assert recovered and min(recovered) - back <= 5, statuses
        successes = sum(1 for _, response, _, _ in results if succeeded(response))
        spent, audited = ledger(cluster.psql, tenant)
        # Every charge has its allow event (one transaction), and no 503 was charged, but for a
        # call whose commit reached the disk just as its backend was killed (the reply lost with it).
        assert spent == audited, (spent, audited)
        assert successes <= spent <= successes + len(tokens), (successes, spent)
    finally:
        cluster.destroy()


def test_every_path_answers_503_without_the_database(keys):
    """Each method and tool of both eras, the handshake-era session paths included, while
    PostgreSQL is stopped: 503 with Retry-After (never a 500 or a 401), and 200 again after."""
    from rampart_server import request
    cluster = OwnCluster(prefix="rampart-paths-")
    try:
        tenant = cluster.new_tenant()
        raise_limits(cluster.rampart, tenant)
        cluster.rampart("admin", "resource", "put", f"tenant://{tenant}/sales/q1", "--data", '{"title": "Q1"}')
        # The change listener on the same (own) cluster as the pool: its reconnection is the signal.
        server = RampartServer(keys, extra_env={"RAMPART_DATABASE_URL": cluster.app,
                                                "RAMPART_CHANGES_DATABASE_URL": None})
        try:
            token = server.token(tenant)
            legacy_init = request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                                 "clientInfo": {"name": "t", "version": "1"}}, modern=False)
            session = server.post(legacy_init, token=token, version=None).headers["mcp-session-id"]
            uri = f"tenant://{tenant}/sales/q1"
            tools = [("read_resource", {"uri": uri}), ("list_resources", {}), ("search_resources", {"query": "Q1"}),
                     ("execute_query", {"collection": "sales"}), ("open_conversation", {}),
                     ("write_resource", {"uri": f"tenant://{tenant}/sales/new", "content": {"a": 1}})]
            modern = [tool_call(name, arguments) for name, arguments in tools] + [
                request("resources/read", {"uri": uri}), request("resources/list"), request("tools/list")]
            legacy = [tool_call(name, arguments, modern=False) for name, arguments in tools] + [
                request("resources/read", {"uri": uri}, modern=False), request("tools/list", modern=False)]

            def answers():
                sent = [("2026 " + body["method"] + " " + body["params"].get("name", ""),
                         server.post(body, token=token)) for body in modern]
                sent += [("2025 " + body["method"] + " " + body["params"].get("name", ""),
                          server.post(body, token=token, version="2025-11-25", headers={"Mcp-Session-Id": session}))
                         for body in legacy]
                sent.append(("2025 initialize", server.post(legacy_init, token=token, version=None)))
                sent.append(("2025 DELETE", httpx.delete(server.url, timeout=30, headers={
                    "Authorization": f"Bearer {token}", "Mcp-Session-Id": session,
                    "MCP-Protocol-Version": "2025-11-25"})))
                return sent

            cluster.stop()
            stopped = time.monotonic()
            time.sleep(1.5)  # the tenant and session caches (500 ms without the listener) have expired
            for what, response in answers():
                assert response.status_code == 503, (what, response.status_code, response.text[:200])
                assert response.headers.get("retry-after") == "1", what
            outage = time.monotonic() - stopped
            cluster.start()
            back = time.monotonic()
            while time.monotonic() < back + 30 and server.post(modern[0], token=token).status_code != 200:
                time.sleep(0.2)
            # The outage lasted long enough for postgres-nio's backoff to reach tens of seconds;
            # the renewed pool (RenewablePool) connects at once.
            assert outage > 30 and time.monotonic() - back <= 5, (outage, time.monotonic() - back)
            for what, response in answers():
                assert response.status_code in (200, 204), (what, response.status_code, response.text[:200])
        finally:
            server.stop()
    finally:
        cluster.destroy()

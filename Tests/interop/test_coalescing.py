"""A busy tenant's calls coalesced into shared transactions stay exact (issue 14, docs/limits.md):
two server processes, 64 concurrent callers on one tenant, one process killed with SIGKILL
mid-run and started again. A bank-style check: never more admitted than the budget or the GCRA
allows; the budget spent is the sum of the audited costs, and lies between the successes the
clients saw and those plus the calls lost in flight on the killed process; the chain verifies."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import run
from rampart_server import RampartServer, tool_call
from test_limits import set_limits

CALLERS = 64
CALLS = 900


def header(body):
    return {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": body["method"], "Mcp-Name": body["params"]["name"],
            "Content-Type": "application/json"}


class KillMidRun:
    """Sends the calls from 64 threads over two processes; after `kill_after` answers, kills the
    second process with SIGKILL and starts a new one in its place."""

    def __init__(self, first, keys, kill_after):
        self.first, self.keys, self.kill_after = first, keys, kill_after
        self.second = RampartServer(keys, extra_env={"RAMPART_PUBLIC_URL": first.url})
        self.targets = [first.url, self.second.url]
        self.lock = threading.Lock()
        self.answered = 0
        self.killed = threading.Event()
        self.outcomes = {"ok": 0, "refused": 0, "not_sent": 0, "lost": 0}
        self.refusals = []

    def call(self, index, token, body):
        target = self.targets[index % 2]
        try:
            response = httpx.post(target, json=body, timeout=30,
                                  headers={**header(body), "Authorization": f"Bearer {token}"})
        except httpx.ConnectError:
            return self.count("not_sent")   # the process was down: the call never reached it
        except httpx.TransportError:
            return self.count("lost")       # sent, never answered: committed or not, we cannot tell
        if response.status_code == 200 and not response.json()["result"].get("isError"):
            self.count("ok")
        else:
            assert response.status_code == 429, response.text
            self.refusals.append(response.json()["error"])
            self.count("refused")

    def count(self, outcome):
        with self.lock:
            self.outcomes[outcome] += 1
            self.answered += 1
            kill = self.answered == self.kill_after
        if kill:
            self.second.process.kill()
            self.second.process.wait()
            self.killed.set()
            replacement = RampartServer(self.keys, extra_env={"RAMPART_PUBLIC_URL": self.first.url})
            self.targets[1] = replacement.url
            self.second = replacement

    def storm(self, calls):
        started = time.monotonic()
        with ThreadPoolExecutor(CALLERS) as pool:
            list(pool.map(lambda item: self.call(item[0], *item[1]), enumerate(calls)))
        assert self.killed.is_set()
        return time.monotonic() - started

    def stop(self):
        self.second.stop()


def batch_counters(process):
    """(transactions, calls) of the process's coalesced calls so far."""
    text = httpx.get(f"http://{process.metrics_listen}/metrics", timeout=10).text
    def total(name):
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))
    return total("rampart_call_batches_total"), total("rampart_call_batched_calls_total")


def audited(tenant):
    events = [json.loads(line) for line in run("audit", "export", "--tenant", tenant).stdout.splitlines()]
    return [e for e in events if e["tool"] == "read_resource" and e["decision"] == "allow"]


@pytest.fixture
def storm(server, keys, tenants):
    runs = []

    def start(kill_after):
        runs.append(KillMidRun(server, keys, kill_after))
        return runs[-1]
    yield start
    for each in runs:
        each.stop()


def calls_of(server, tenant):
    read = lambda i: tool_call("read_resource", {"uri": f"tenant://{tenant}/sales/q{i % 3 + 1}"}, id=i)
    return [(server.token(tenant, sub=f"u{i % 16}"), read(i)) for i in range(CALLS)]


def test_a_budget_is_never_overspent_with_a_process_killed(server, tenants, storm):
    a, _ = tenants
    set_limits(a)
    budget = 300
    assert run("admin", "budget", "set", a, "--daily", str(budget)).returncode == 0
    kill = storm(kill_after=150)
    transactions, calls = batch_counters(server)
    kill.storm(calls_of(server, a))
    more_transactions, more_calls = batch_counters(server)
    assert more_calls - calls > more_transactions - transactions, "no call was coalesced"
    outcomes = kill.outcomes
    spent = json.loads(run("admin", "budget", "show", a, "--json").stdout)["spent"]
    charged = audited(a)
    assert spent <= budget, outcomes
    assert spent == sum(e["cost"] for e in charged), (spent, len(charged))
    assert outcomes["ok"] <= spent <= outcomes["ok"] + outcomes["lost"], (spent, outcomes)
    assert outcomes["refused"] > 0 and all(r["code"] == -32051 for r in kill.refusals)
    assert run("audit", "verify").returncode == 0


def test_a_limit_is_never_exceeded_with_a_process_killed(server, tenants, storm):
    a, _ = tenants
    limit = 240
    set_limits(a, tenant=limit)
    kill = storm(kill_after=150)
    elapsed = kill.storm(calls_of(server, a))
    outcomes = kill.outcomes
    admitted = len(audited(a))
    assert admitted <= limit + int(elapsed * limit / 60) + 1, (admitted, elapsed, outcomes)
    assert outcomes["ok"] <= admitted <= outcomes["ok"] + outcomes["lost"], (admitted, outcomes)
    assert outcomes["refused"] > 0 and all(r["data"]["limit"] == "tenant" for r in kill.refusals)
    assert run("audit", "verify").returncode == 0

"""The soak (issue 15; docs/benchmarks.md "Soak"): two `rampart serve` processes on one database
under mixed load for N minutes — both protocol eras, every tool and resource method, and the
refusals (forged tokens, out-of-scope reads, invalid arguments, unknown handles, rate limits,
exhausted budgets) — after a minute of the same load to warm up, then the invariants: spent =
audited cost for every tenant, the audit chain verifies, no 5xx, and each process's RSS at the end
within 10 % of what it was after the warm-up.

Run by ops/soak, which starts the cluster and sets TEST_* as ops/test does."""
import argparse
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "interop"))
from conftest import run  # noqa: E402
from rampart_server import Keys, RampartServer, create_tenant, request, tool_call  # noqa: E402

WORKERS = 12
# Load before the measured minutes: RSS grows for about a minute (allocator arenas, connection
# and statement caches) and then stays flat, so the baseline is taken after it.
WARM_UP_SECONDS = 60


def admin(*args):
    # An hour's audit export is millions of lines: far past the test suite's 60 s.
    result = run(*args, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"soak: rampart {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def proc_status(server):
    """The process's /proc status fields, by name, first word of each value."""
    with open(f"/proc/{server.process.pid}/status") as status:
        fields = (line.split(":", 1) for line in status if ":" in line)
        return {name: (value.split() or [""])[0] for name, value in fields}


def rss_mb(server):
    return int(proc_status(server)["VmRSS"]) / 1024


def memory_line(servers):
    """Resident memory by kind (anonymous, i.e. the heap and stacks, against file-backed) and the
    thread count: a leak grows the anonymous part with the requests served; an allocator's arenas
    grow with threads and then stop."""
    parts = []
    for server in servers:
        fields = proc_status(server)
        parts.append(f"rss {int(fields['VmRSS']) / 1024:.1f} anon {int(fields['RssAnon']) / 1024:.1f} "
                     f"threads {fields['Threads']}")
    return " | ".join(parts)


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.server_errors = []

    def add(self, kind, response):
        with self.lock:
            self.counts[f"{kind}:{response.status_code}"] += 1
            if response.status_code >= 500:
                self.server_errors.append((kind, response.status_code, response.text[:200]))


class Worker:
    """One client: a keep-alive connection to one of the processes, in one era."""

    def __init__(self, index, servers, tenants, tally, seconds):
        self.index, self.tally = index, tally
        self.server = servers[index % 2]
        self.tenant, self.tight = tenants["main"], tenants["tight"]
        self.modern = index % 3 != 0
        self.http = httpx.Client(timeout=30)
        # Both processes serve one public URL (the first's): every token names it as audience,
        # and outlives the run.
        expires = int(time.time()) + 3600 + int(seconds)
        mint = lambda tenant, **claims: servers[0].token(tenant, exp=expires, **claims)  # noqa: E731
        self.token = mint(self.tenant, sub=f"w{index}")
        self.sales_only = mint(self.tenant, sub=f"w{index}", scope="resources:read",
                               rampart_scope=[f"tenant://{self.tenant}/sales/*"])
        self.tight_token = mint(self.tight, sub=f"w{index}")
        self.session = None
        if not self.modern:
            self.session = self.initialize(self.token)

    def initialize(self, token):
        response = self.http.post(self.server.url, headers=self.headers(token, legacy_init=True), json=request(
            "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "soak", "version": "1"}}, id=0, modern=False))
        self.tally.add("initialize", response)
        return response.headers.get("mcp-session-id")

    def headers(self, token, body=None, legacy_init=False):
        sent = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
        if legacy_init:
            return sent
        if self.modern:
            sent["MCP-Protocol-Version"] = "2026-07-28"
            if body:
                sent["Mcp-Method"] = body["method"]
                params = body.get("params", {})
                if body["method"] == "tools/call":
                    sent["Mcp-Name"] = params["name"]
                elif body["method"] == "resources/read":
                    sent["Mcp-Name"] = params["uri"]
        else:
            sent["MCP-Protocol-Version"] = "2025-11-25"
            sent["Mcp-Session-Id"] = self.session or ""
        return sent

    def send(self, kind, body, token=None):
        token = token or self.token
        response = self.http.post(self.server.url, json=body, headers=self.headers(token, body))
        self.tally.add(kind, response)
        return response

    def tool(self, kind, name, arguments, token=None):
        return self.send(kind, tool_call(name, arguments, id=random.randrange(1 << 30), modern=self.modern), token)

    def method(self, kind, name, params=None):
        return self.send(kind, request(name, params, id=random.randrange(1 << 30), modern=self.modern))

    def step(self, number):
        t = self.tenant
        choice = number % 16
        if choice == 0:
            self.tool("read", "read_resource", {"uri": f"tenant://{t}/sales/q{number % 3 + 1}"})
        elif choice == 1:
            self.tool("list", "list_resources", {"collection": "sales", "limit": 2})
        elif choice == 2:
            self.tool("search", "search_resources", {"query": "review"})
        elif choice == 3:
            self.tool("query", "execute_query", {"collection": "sales", "where": [{"field": "region", "op": "eq", "value": "emea"}]})
        elif choice == 4:
            self.tool("write", "write_resource", {"uri": f"tenant://{t}/notes/w{self.index}-{number % 50}",
                                                  "content": {"n": number}})
        elif choice == 5 and self.modern:
            opened = self.tool("open", "open_conversation", {"scope": [f"tenant://{t}/sales/*"]})
            handle = opened.json().get("result", {}).get("structuredContent", {}).get("conversation")
            if handle:
                self.tool("read-in-conversation", "read_resource",
                          {"uri": f"tenant://{t}/sales/q1", "conversation": handle})
        elif choice == 6:
            self.method("resources/read", "resources/read", {"uri": f"tenant://{t}/sales/q2"})
        elif choice == 7:
            self.method("resources/list", "resources/list")
        elif choice == 8:
            self.method("tools/list", "tools/list")
        elif choice == 9:  # answered in the handshake era; removed (404) in 2026-07-28
            self.method("ping" if not self.modern else "ping-removed", "ping")
        elif choice == 10:  # refused: a forged signature
            self.tool("forged", "read_resource", {"uri": f"tenant://{t}/sales/q1"}, token=self.token[:-3] + "AAA")
        elif choice == 11:  # refused: outside the token's resource scope
            self.tool("out-of-scope", "read_resource", {"uri": f"tenant://{t}/hr/aardvark"}, token=self.sales_only)
        elif choice == 12:  # refused: invalid arguments
            self.tool("invalid", "read_resource", {"uri": f"tenant://{t}/sales/q1", "extra": 1})
        elif choice == 13 and self.modern:  # refused: an unknown handle
            self.tool("unknown-handle", "read_resource", {"uri": f"tenant://{t}/sales/q1", "conversation": "z" * 32})
        elif choice == 14:  # refused by the tight tenant's limits or budget
            self.tool("tight", "read_resource", {"uri": f"tenant://{self.tight}/sales/q1"}, token=self.tight_token)
        elif choice == 15:  # refused: another tenant's resource
            self.tool("foreign", "read_resource", {"uri": f"tenant://{self.tight}/sales/q1"})

    def loop(self, until, failures):
        number = self.index
        try:
            while time.monotonic() < until:
                number += 1
                self.step(number)
        except Exception as error:  # a transport failure is a finding, not noise
            failures.append(f"worker {self.index}: {type(error).__name__}: {error}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--progress", type=float, default=0,
                        help="print memory and the request count every this many seconds")
    options = parser.parse_args()
    seconds = options.minutes * 60

    keys = Keys(tempfile.mkdtemp(prefix="rampart-soak-"))
    suffix = os.urandom(4).hex()
    tenants = {"main": f"soak-{suffix}", "tight": f"soak-tight-{suffix}"}
    for tenant in tenants.values():
        create_tenant(tenant, documents=[
            (f"tenant://{tenant}/sales/q1", {"title": "Q1 review", "region": "emea", "amount": 100}),
            (f"tenant://{tenant}/sales/q2", {"title": "Q2 plan", "region": "amer", "amount": 250}),
            (f"tenant://{tenant}/sales/q3", {"title": "Q3 deals", "region": "emea", "amount": 40}),
            (f"tenant://{tenant}/hr/aardvark", {"name": "a person", "ssn": "123-45-6789"}),
        ])
    admin("admin", "limits", "set", tenants["tight"], "--tenant-per-minute", "120", "--user-per-minute", "60",
          "--conversation-per-minute", "1000", "--resource-per-minute", "1000")
    admin("admin", "budget", "set", tenants["tight"], "--daily", "40")
    admin("admin", "limits", "set", tenants["main"], "--tenant-per-minute", "10000000",
          "--user-per-minute", "10000000", "--conversation-per-minute", "10000000",
          "--resource-per-minute", "10000000", "--conversations-per-user-per-minute", "10000000")

    first = RampartServer(keys)
    second = RampartServer(keys, extra_env={"RAMPART_PUBLIC_URL": first.url})
    servers = [first, second]
    tally, failures = Tally(), []
    try:
        workers = [Worker(i, servers, tenants, tally, WARM_UP_SECONDS + seconds) for i in range(WORKERS)]
        started = time.monotonic()
        until = started + WARM_UP_SECONDS + seconds
        threads = [threading.Thread(target=w.loop, args=(until, failures)) for w in workers]
        for thread in threads:
            thread.start()
        time.sleep(WARM_UP_SECONDS)
        baseline = [rss_mb(s) for s in servers]
        peak = list(baseline)
        trend, next_sample = [], time.monotonic()
        next_progress = next_sample
        while time.monotonic() < until:
            time.sleep(min(5, max(0.1, until - time.monotonic())))
            sample = [rss_mb(s) for s in servers]
            peak = [max(p, r) for p, r in zip(peak, sample)]
            if time.monotonic() >= next_sample:
                trend.append(f"{time.monotonic() - started:.0f}s " + "/".join(f"{r:.0f}" for r in sample))
                next_sample += seconds / 10
            if options.progress and time.monotonic() >= next_progress:
                total = sum(tally.counts.values())
                print(f"soak: {time.monotonic() - started:5.0f} s, {total} requests: {memory_line(servers)}", flush=True)
                next_progress += options.progress
        for thread in threads:
            thread.join(timeout=60)
        final = [rss_mb(s) for s in servers]
        elapsed = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()

    problems = list(failures)
    problems += [f"5xx: {error}" for error in tally.server_errors[:5]]
    for name, tenant in tenants.items():
        events = [json.loads(line) for line in admin("audit", "export", "--tenant", tenant).splitlines()]
        audited = sum(e.get("cost") or 0 for e in events if e["decision"] == "allow")
        spent = json.loads(admin("admin", "budget", "show", tenant, "--json"))["spent"]
        print(f"soak: tenant {name}: {len(events)} audit events, spent {spent}, audited cost {audited}")
        if spent != audited:
            problems.append(f"tenant {name}: spent {spent} != audited cost {audited}")
    verified = run("audit", "verify", timeout=900)
    print("soak: " + (verified.stdout.strip().splitlines() or ["audit verify printed nothing"])[-1])
    if verified.returncode != 0:
        problems.append(f"audit verify failed: {verified.stdout.strip()} {verified.stderr.strip()}")
    for index, (start, top, end) in enumerate(zip(baseline, peak, final)):
        print(f"soak: process {index + 1}: RSS {start:.0f} MB after the {WARM_UP_SECONDS} s warm-up, peak {top:.0f} MB, final {end:.0f} MB")
        if end > start * 1.10:
            problems.append(f"process {index + 1}: RSS grew from {start:.0f} to {end:.0f} MB (> 10 %)")
    print("soak: RSS (MB, process 1/2) over the run: " + ", ".join(trend))
    total = sum(tally.counts.values())
    print(f"soak: {total} requests in {elapsed:.0f} s (warm-up included) ({total / elapsed:.0f}/s), {WORKERS} clients, 2 processes")
    for kind, count in sorted(tally.counts.items()):
        print(f"soak:   {kind:28} {count}")
    refused = sum(c for k, c in tally.counts.items() if k.split(":")[0] in ("forged", "tight"))
    if refused == 0:
        problems.append("no refusal was exercised")
    if problems:
        for problem in problems:
            print(f"soak: FAILED: {problem}")
        sys.exit(1)
    print("soak: passed")


if __name__ == "__main__":
    main()

"""The benchmark ladder (ops/bench/ladder runs this): every target of docs/benchmarks.md in one
run on one box, interleaved rounds, one table of medians and the ratios the goals are set in.

Driven by ops/bench/ladder, which builds the binaries, starts the PostgreSQL cluster (fsync and
synchronous_commit on, pg_stat_statements loaded) and passes everything in BENCH_* variables.
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import httpx
import jwt

WORK = Path(os.environ["BENCH_WORK"])
PG_PORT = os.environ["BENCH_PG_PORT"]
PG_BIN = os.environ["BENCH_PG_BIN"]
AS_POSTGRES = os.environ.get("BENCH_AS_POSTGRES", "").split()
RAMPART = os.environ["BENCH_RAMPART"]
HELLO = os.environ["BENCH_HELLO"]
HERE = Path(__file__).resolve().parent
SECRET = "bench-secret-bench-secret-bench-secret"
ISSUER = "bench"
TENANTS = 100
USERS = 10
CLIENTS = 32
TICKS = os.sysconf("SC_CLK_TCK")


def url(role, database="postgres"):
    return f"postgres://{role}@127.0.0.1:{PG_PORT}/{database}?sslmode=disable"


def psql(sql, role="postgres"):
    result = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", url(role), "-c", sql],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"psql as {role} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def free_port():
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Setup -------------------------------------------------------------------------------------------

def provision():
    """100 tenants, each with a document to read, documents to write, limits no run reaches and a
    daily budget every call is debited from; the roles each target connects as."""
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    subprocess.run([RAMPART, "db", "migrate", "--database-url", url("postgres")], check=True,
                   stdout=subprocess.DEVNULL)
    psql("CREATE ROLE bench_app LOGIN IN ROLE rampart_app; CREATE ROLE bench_admin LOGIN IN ROLE rampart_admin; "
         "CREATE ROLE bench_pgbench LOGIN SUPERUSER; CREATE ROLE bench_peer LOGIN SUPERUSER")
    psql(f"""
    DO $$
    BEGIN
        FOR t IN 0..{TENANTS - 1} LOOP
            PERFORM rampart.create_tenant('bt' || t);
            PERFORM rampart.put_document('bt' || t, 'sales', 'q1', '{{"title": "Q1", "amount": 100}}');
            FOR u IN 1..{USERS} LOOP
                PERFORM rampart.put_document('bt' || t, 'load', 'u' || u, '{{"note": "start"}}');
                PERFORM rampart.put_document('bt' || t, 'load', 'p' || u, '{{"note": "start"}}');
            END LOOP;
            PERFORM rampart.set_limits('bt' || t, 100000000, 100000000, 100000000, 100000000, 100000000);
            PERFORM rampart.set_budget('bt' || t, 1000000000000);
        END LOOP;
    END $$""", role="bench_admin")


def token(tenant, user, audience):
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": audience, "sub": f"bench{user}", "tenant_id": tenant,
                       "scope": "resources:read resources:write", "iat": now, "nbf": now, "exp": now + 86400,
                       "jti": uuid.uuid4().hex}, SECRET, algorithm="HS256")


def caller_files(audience):
    """Callers for wrk: one tenant's ten users, and ten users in each of 100 tenants."""
    one = [f"bt0 {token('bt0', u, audience)}" for u in range(1, USERS + 1)]
    spread = [f"bt{t} {token(f'bt{t}', u, audience)}" for u in range(1, USERS + 1) for t in range(TENANTS)]
    (WORK / "callers-1").write_text("\n".join(one) + "\n")
    (WORK / "callers-100").write_text("\n".join(spread) + "\n")
    return spread


def open_sessions(endpoint, callers):
    """A handshake-era session for each caller (initialize, then notifications/initialized)."""
    lines = []
    with httpx.Client(timeout=10) as http:
        for line in callers:
            tenant, bearer = line.split()
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json",
                       "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
            opened = http.post(endpoint, headers=headers, json={
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "ladder", "version": "1"}}})
            opened.raise_for_status()
            session = opened.headers["mcp-session-id"]
            http.post(endpoint, headers={**headers, "Mcp-Session-Id": session},
                      json={"jsonrpc": "2.0", "method": "notifications/initialized"}).raise_for_status()
            lines.append(f"{tenant} {bearer} {session}")
    (WORK / "sessions-100").write_text("\n".join(lines) + "\n")


def wait_ready(probe, process):
    for _ in range(300):
        if process.poll() is not None:
            sys.exit(f"{probe}: the server exited with {process.returncode} (see {WORK})")
        try:
            if httpx.get(probe, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"{probe}: not ready after 30 s")


# Measuring ---------------------------------------------------------------------------------------

def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def database_cpu_seconds():
    """The cluster's CPU: the postmaster and its live children, plus the children it reaped."""
    postmaster = int((WORK / "data" / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(child[1]) == postmaster:
            total += int(child[11]) + int(child[12])
    return total / TICKS


def peak_rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def statements(role):
    return int(psql(f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE userid = '{role}'::regrole"))


def batch_counters(metrics_url):
    """(transactions, calls) the server's coalescer has run so far, over every operation."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    def total(name):
        return sum(float(value) for value in re.findall(rf"^{name}{{[^}}]*}} ([\d.e+]+)$", text, re.M))
    return total("rampart_call_batches_total"), total("rampart_call_batched_calls_total")


def unsealed():
    return int(psql("SELECT count(*) FROM rampart.audit_pending"))


def milliseconds(text):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(target_url, seconds, env=None, script=True):
    command = ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--latency"]
    if script:
        command += ["-s", str(HERE / "mcp.lua")]
    run = subprocess.run(command + [target_url], capture_output=True, text=True, env={**os.environ, **(env or {})})
    out = run.stdout
    percentile = {q: re.search(rf"^\s*{q}%\s+([\d.]+(?:us|ms|s))\s*$", out, re.M) for q in (50, 99)}
    if not all(percentile.values()):
        sys.exit(f"wrk against {target_url} failed:\n{out}\n{run.stderr}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": milliseconds(percentile[50].group(1)),
        "p99": milliseconds(percentile[99].group(1)),
        "calls": requests,
        "failed": (int(non2xx.group(1)) if non2xx else 0),
        "note": errors.group(1).strip() if errors else "",
    }


def run_pgbench(script, tenants, seconds):
    prefix = WORK / f"pgbench-{uuid.uuid4().hex[:6]}"
    command = AS_POSTGRES + [f"{PG_BIN}/pgbench", "-h", "127.0.0.1", "-p", PG_PORT, "-U", "bench_pgbench", "-n",
                             "-c", str(CLIENTS), "-j", "2", "-T", str(seconds), "-M", "prepared",
                             "-D", f"tenants={tenants}", "-f", str(WORK / script), "-l",
                             f"--log-prefix={prefix}", "postgres"]
    out = subprocess.run(command, capture_output=True, text=True, cwd="/",
                         env={**os.environ, "PGOPTIONS": "-c synchronous_commit=on"})
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    if not match:
        sys.exit(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    latencies = []
    for log in WORK.glob(f"{prefix.name}*"):
        latencies += [int(line.split()[2]) / 1000 for line in log.read_text().splitlines() if line.strip()]
        log.unlink()
    latencies.sort()
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    return {
        "rate": float(match.group(1)),
        "p50": latencies[len(latencies) // 2] if latencies else 0.0,
        "p99": latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "calls": len(latencies),
        "failed": int(failed.group(1)) if failed else 0,
        "note": "",
    }


class Target:
    def __init__(self, name, run, process=None, role=None, metrics=None):
        self.name, self.run, self.process, self.role, self.metrics = name, run, process, role, metrics
        self.results = []

    def measure(self, seconds):
        psql("SELECT pg_stat_statements_reset()")
        server_before = cpu_seconds(self.process.pid) if self.process else None
        database_before = database_cpu_seconds()
        batches_before = batch_counters(self.metrics) if self.metrics else None
        result = self.run(seconds)
        calls = max(result["calls"], 1)
        result["database_cpu_us"] = (database_cpu_seconds() - database_before) / calls * 1e6
        if self.process:
            result["server_cpu_us"] = (cpu_seconds(self.process.pid) - server_before) / calls * 1e6
            result["rss_mb"] = peak_rss_mb(self.process.pid)
        result["round_trips"] = statements(self.role) / calls if self.role else None
        result["unsealed"] = unsealed()
        if self.metrics:
            (transactions, calls), (before_transactions, before_calls) = batch_counters(self.metrics), batches_before
            result["batch"] = (calls - before_calls) / (transactions - before_transactions) \
                if transactions > before_transactions else None
        self.results.append(result)
        return result

    def median(self, key):
        values = [r[key] for r in self.results if r.get(key) is not None]
        return statistics.median(values) if values else None


async def rss_with_connections(endpoint, bearer, count, pid):
    """The server's RSS (MB) while `count` keep-alive connections are open, each having made one
    authenticated tools/list call."""
    host, port = re.match(r"http://([^:/]+):(\d+)", endpoint).groups()
    request = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}))
    head = (f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {bearer}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n"
            f"Content-Length: {len(request)}\r\n\r\n{request}").encode()
    streams = []
    try:
        for batch in range(0, count, 100):
            opened = await asyncio.gather(*[asyncio.open_connection(host, int(port))
                                            for _ in range(min(100, count - batch))])
            for _, writer in opened:
                writer.write(head)
            for reader, _ in opened:
                await reader.readuntil(b"\r\n\r\n")
            streams += opened
        await asyncio.sleep(1)
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    finally:
        for _, writer in streams:
            writer.close()


# The run -----------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="run only the targets whose name contains this")
    parser.add_argument("--statements", type=int, default=0, metavar="N",
                        help="after each target, print its N costliest SQL statements, nested ones included")
    options = parser.parse_args()

    provision()
    listen = f"127.0.0.1:{free_port()}"
    endpoint = f"http://{listen}/mcp"
    spread = caller_files(endpoint)
    for script in ("minimal-read.sql", "minimal-write.sql"):
        (WORK / script).write_text((HERE / script).read_text())
        os.chmod(WORK / script, 0o644)

    logs = open(WORK / "servers.log", "w")
    metrics_listen = f"127.0.0.1:{free_port()}"
    def rampart(listen_at, metrics_at, **extra):
        return subprocess.Popen([RAMPART, "serve"], stdout=logs, stderr=subprocess.STDOUT, env={
            **os.environ, "RAMPART_DATABASE_URL": url("bench_app"), "RAMPART_LISTEN": listen_at,
            "RAMPART_PUBLIC_URL": endpoint, "RAMPART_JWT_ISSUERS": ISSUER,
            "RAMPART_JWT_HS256_SECRET": SECRET, "RAMPART_METRICS_LISTEN": metrics_at, "LOG_LEVEL": "warning",
            **extra})
    server = rampart(listen, metrics_listen)
    # The same server with coalescing off, the reference for what coalescing gains or costs.
    uncoalesced_listen = f"127.0.0.1:{free_port()}"
    uncoalesced = rampart(uncoalesced_listen, f"127.0.0.1:{free_port()}", RAMPART_CALL_BATCH_MAX="1")
    uncoalesced_endpoint = f"http://{uncoalesced_listen}/mcp"
    metrics = f"http://{metrics_listen}/metrics"
    hello_port = free_port()
    hello = subprocess.Popen([HELLO, "127.0.0.1", str(hello_port)], stdout=logs, stderr=subprocess.STDOUT)
    peer_port = free_port()
    peer = subprocess.Popen([sys.executable, str(HERE / "fastmcp_peer.py")], stdout=logs, stderr=subprocess.STDOUT,
                            env={**os.environ, "PEER_DATABASE_URL": url("bench_peer"), "PEER_SECRET": SECRET,
                                 "PEER_ISSUER": ISSUER, "PEER_AUDIENCE": endpoint, "PEER_PORT": str(peer_port)})
    try:
        wait_ready(f"http://{listen}/readyz", server)
        wait_ready(f"http://{uncoalesced_listen}/readyz", uncoalesced)
        wait_ready(f"http://127.0.0.1:{hello_port}/hello", hello)
        wait_ready(f"http://127.0.0.1:{peer_port}/mcp", peer)
        open_sessions(endpoint, spread)

        def callers(name, **extra):
            return {"BENCH_TOKENS": str(WORK / name), **extra}

        peer_url = f"http://127.0.0.1:{peer_port}/mcp"
        targets = [
            Target("bare Hummingbird GET /hello",
                   lambda s: run_wrk(f"http://127.0.0.1:{hello_port}/hello", s, script=False), hello),
            Target("rampart tools/list (stateless, authenticated)",
                   lambda s: run_wrk(endpoint, s, callers("callers-100", BENCH_CALL="list")), server, "bench_app", metrics),
            Target("rampart read_resource, 1 tenant",
                   lambda s: run_wrk(endpoint, s, callers("callers-1")), server, "bench_app", metrics),
            Target("rampart read_resource, 1 tenant, coalescing off",
                   lambda s: run_wrk(uncoalesced_endpoint, s, callers("callers-1")), uncoalesced, "bench_app"),
            Target("rampart read_resource, 100 tenants",
                   lambda s: run_wrk(endpoint, s, callers("callers-100")), server, "bench_app", metrics),
            Target("rampart read_resource, 100 tenants, coalescing off",
                   lambda s: run_wrk(uncoalesced_endpoint, s, callers("callers-100")), uncoalesced, "bench_app"),
            Target("rampart read_resource, 100 tenants, handshake era",
                   lambda s: run_wrk(endpoint, s, callers("sessions-100", BENCH_ERA="handshake")), server,
                   "bench_app", metrics),
            Target("rampart write_resource, 100 tenants",
                   lambda s: run_wrk(endpoint, s, callers("callers-100", BENCH_CALL="write")), server, "bench_app", metrics),
            Target("pgbench minimal charged read, 1 tenant",
                   lambda s: run_pgbench("minimal-read.sql", 1, s), role="bench_pgbench"),
            Target("pgbench minimal charged read, 100 tenants",
                   lambda s: run_pgbench("minimal-read.sql", TENANTS, s), role="bench_pgbench"),
            Target("pgbench minimal write, 100 tenants",
                   lambda s: run_pgbench("minimal-write.sql", TENANTS, s), role="bench_pgbench"),
            Target("FastMCP 4.1.6 peer: JWT + one asyncpg read, 100 tenants",
                   lambda s: run_wrk(peer_url, s, callers("callers-100")), peer, "bench_peer"),
        ]
        if options.only:
            targets = [target for target in targets if options.only in target.name]
        # Warm-up: implicit conversations opened, statements prepared, caches filled.
        for target in targets:
            target.run(1)
        for round_number in range(options.rounds):
            for target in targets:
                result = target.measure(options.seconds)
                print(f"round {round_number + 1}: {target.name}: {result['rate']:.0f}/s, p99 {result['p99']:.1f} ms,"
                      f" failed {result['failed']}", file=sys.stderr, flush=True)
                if options.statements and target.role:
                    print_statements(target.role, result["calls"], options.statements)

        rss_held = asyncio.run(rss_with_connections(endpoint, spread[0].split()[1], 1000, server.pid))
        report(targets, options, rss_held)
    finally:
        for process in (server, uncoalesced, hello, peer):
            process.terminate()
        for process in (server, uncoalesced, hello, peer):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def print_statements(role, calls, count):
    """The statements of `role` that cost the most database time in the last run, per call."""
    rows = psql(f"""SELECT round((total_exec_time * 1000 / {calls})::numeric, 1), round(calls::numeric / {calls}, 2),
                          regexp_replace(left(query, 110), '\\s+', ' ', 'g')
                   FROM pg_stat_statements WHERE userid = '{role}'::regrole
                   ORDER BY total_exec_time DESC LIMIT {count}""")
    print(f"  µs/call | runs/call | statement ({role})", file=sys.stderr)
    for line in rows.splitlines():
        print("  " + line.replace("|", " | ", 2), file=sys.stderr)


def report(targets, options, rss_held):
    def cell(value, digits=0):
        return "-" if value is None else f"{value:,.{digits}f}"

    print(f"\n{options.rounds} interleaved rounds of {options.seconds} s, {CLIENTS} connections, medians; "
          f"PostgreSQL with fsync and synchronous_commit on.\n")
    print("| target | calls/s | p50 ms | p99 ms | server CPU µs/call | DB CPU µs/call | SQL statements/call"
          " | calls/transaction | peak RSS MB | failed | audit queue at end |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for target in targets:
        print(f"| {target.name} | {cell(target.median('rate'))} | {cell(target.median('p50'), 2)} | "
              f"{cell(target.median('p99'), 2)} | {cell(target.median('server_cpu_us'))} | "
              f"{cell(target.median('database_cpu_us'))} | {cell(target.median('round_trips'), 2)} | "
              f"{cell(target.median('batch'), 2)} | "
              f"{cell(target.median('rss_mb'))} | {sum(r['failed'] for r in target.results)} | "
              f"{target.results[-1]['unsealed']} |")
    rate = {target.name: target.median("rate") for target in targets}
    if options.only:
        return  # some targets only: no ratios

    def ratio(numerator, denominator):
        return rate[numerator] / rate[denominator] if rate[denominator] else 0.0

    read100 = "rampart read_resource, 100 tenants"
    rows = [
        (f"{read100} / pgbench minimal charged read, 100 tenants", ratio(read100, "pgbench minimal charged read, 100 tenants"), "≥ 0.6"),
        (f"{read100} / FastMCP peer", ratio(read100, targets[-1].name), "≥ 6"),
        ("read_resource, 1 tenant / pgbench (one transaction per call), 1 tenant",
         ratio("rampart read_resource, 1 tenant", "pgbench minimal charged read, 1 tenant"), "≥ 2"),
        ("read_resource, 100 tenants: coalescing on / off",
         ratio(read100, "rampart read_resource, 100 tenants, coalescing off"), "≥ 0.95"),
        ("read_resource, 1 tenant: coalescing on / off",
         ratio("rampart read_resource, 1 tenant", "rampart read_resource, 1 tenant, coalescing off"), "-"),
        ("handshake-era read / stateless read, 100 tenants", ratio("rampart read_resource, 100 tenants, handshake era", read100), "≥ 0.85"),
        ("write_resource / pgbench minimal write, 100 tenants", ratio("rampart write_resource, 100 tenants", "pgbench minimal write, 100 tenants"), "≥ 0.5"),
        ("tools/list / bare Hummingbird", ratio("rampart tools/list (stateless, authenticated)", "bare Hummingbird GET /hello"), "≥ 0.5"),
    ]
    print("\n| ratio (of medians) | measured | goal |")
    print("| --- | ---: | ---: |")
    for name, value, goal in rows:
        print(f"| {name} | {value:.2f}× | {goal} |")
    read_p99 = next(t for t in targets if t.name == read100).median("p99")
    print(f"| read_resource p99, 100 tenants | {read_p99:.1f} ms | ≤ 10 ms |")
    one_p99 = next(t for t in targets if t.name == "rampart read_resource, 1 tenant").median("p99")
    print(f"| read_resource p99, 1 tenant | {one_p99:.1f} ms | ≤ 15 ms |")
    print(f"| rampart RSS with 1,000 open client connections | {rss_held:.0f} MB | ≤ 150 MB |")


if __name__ == "__main__":
    main()

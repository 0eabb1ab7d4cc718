"""The audit trail (CONTRACT.md §12): every decision recorded, effects and their events commit
together, the chain is verifiable and names tampering, and nothing secret is ever in it."""
import json
import os
import signal
import subprocess
import threading
import time

import httpx

from conftest import run
from rampart_server import RampartServer, request, tool_call


def export(tenant=None):
    args = ["audit", "export"] + (["--tenant", tenant] if tenant else [])
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def verify():
    return run("audit", "verify")


def psql(sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", os.environ["TEST_SUPERUSER_URL"], "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def test_allowed_and_denied_calls_leave_events_without_secrets(server, tenants):
    a, b = tenants
    token = server.token(a)
    read = server.post(tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}), token=token)
    foreign = server.post(tool_call("read_resource", {"uri": f"tenant://{b}/sales/q1"}), token=token)
    refused = server.post(tool_call("write_resource", {"uri": f"tenant://{a}/x/y", "content": {}}),
                          token=server.token(a, scope="resources:read"))
    assert refused.status_code == 403
    time.sleep(0.5)  # refusals are flushed in batches every 200 ms

    events = {event["request_id"]: event for event in export(a)}
    allowed = events[read.headers["x-request-id"]]
    assert (allowed["decision"], allowed["layer"], allowed["tool"], allowed["resource"]) == (
        "allow", "execute", "read_resource", f"tenant://{a}/sales/q1")
    assert allowed["subject"] == "alice" and allowed["method"] == "tools/call"
    cross = events[foreign.headers["x-request-id"]]
    assert (cross["decision"], cross["layer"], cross["reason"]) == ("deny", "access", "cross-tenant uri")
    scope = events[refused.headers["x-request-id"]]
    assert (scope["decision"], scope["layer"], scope["reason"]) == ("deny", "access", "insufficient scope")
    assert scope["details"] == {"required": ["resources:write"], "granted": ["resources:read"]}
    for key in ("at", "request_id", "tenant", "subject", "conversation", "method", "tool", "resource", "decision",
                "layer", "reason", "cost"):
        assert key in allowed

    everything = run("audit", "export").stdout
    assert token not in everything and token.split(".")[2] not in everything
    assert "aardvark review" not in everything and "123-45-6789" not in everything

    result = verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("verified ") and " events; chain head " in result.stdout


def test_unauthenticated_refusals_are_recorded_under_no_tenant(server):
    response = server.post(request("tools/list"), token="not.a.token")
    assert response.status_code == 401
    time.sleep(0.5)
    events = {event["request_id"]: event for event in export("-") if event["request_id"]}
    event = events[response.headers["x-request-id"]]
    assert (event["decision"], event["layer"], event["reason"], event["subject"]) == (
        "deny", "auth", "not a compact JWS", None)


def test_the_json_lines_stream_and_the_final_flush_on_shutdown(keys, tenants, tmp_path):
    stream = tmp_path / "audit.jsonl"
    own = RampartServer(keys, extra_env={"RAMPART_AUDIT_LOG": str(stream)})
    try:
        read = own.post(tool_call("read_resource", {"uri": f"tenant://{tenants[0]}/sales/q1"}), token=own.token(tenants[0]))
        denied = own.post(request("tools/list"), token=own.token(tenants[0], aud="https://elsewhere.example"))
        own.process.send_signal(signal.SIGTERM)  # before the next 200 ms flush
        assert own.process.wait(timeout=30) == 0
    finally:
        own.stop()
    lines = [json.loads(line) for line in stream.read_text().splitlines()]
    by_request = {line["request_id"]: line for line in lines}
    assert by_request[read.headers["x-request-id"]]["decision"] == "allow"
    assert by_request[denied.headers["x-request-id"]]["reason"] == "audience is not this server"
    stored = {event["request_id"] for event in export("-")}
    assert denied.headers["x-request-id"] in stored


def test_kill_9_during_writes_loses_no_audit_event(keys, tenants):
    tenant = tenants[0]
    assert run("admin", "limits", "set", tenant, "--tenant-per-minute", "1000000", "--user-per-minute", "1000000",
               "--conversation-per-minute", "1000000", "--resource-per-minute", "1000000").returncode == 0
    victim = RampartServer(keys)
    stop = threading.Event()

    def writer(worker):
        token = victim.token(tenant, sub=f"writer-{worker}")
        with httpx.Client(timeout=5) as http:
            version = 0
            while not stop.is_set():
                body = tool_call("write_resource", {"uri": f"tenant://{tenant}/load/w{worker}", "content": {"n": version}})
                try:
                    http.post(victim.url, json=body, headers={
                        "Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2026-07-28",
                        "Mcp-Method": "tools/call", "Mcp-Name": "write_resource"})
                except httpx.HTTPError:
                    return
                version += 1

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    victim.process.kill()
    victim.process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    victim.stop()

    versions = psql(f"SELECT string_agg(id || ':' || version, ',') FROM rampart.documents "
                    f"WHERE tenant_id = '{tenant}' AND collection = 'load'")
    committed = {f"tenant://{tenant}/load/{pair.split(':')[0]}": int(pair.split(':')[1])
                 for pair in versions.split(",")}
    assert sum(committed.values()) > 30, committed
    audited = psql(f"SELECT string_agg(resource || ':' || (details->>'version'), ',') FROM rampart.audit_events "
                   f"WHERE tenant_id = '{tenant}' AND tool = 'write_resource' AND decision = 'allow'")
    seen = {}
    for pair in audited.split(","):
        uri, version = pair.rsplit(":", 1)
        seen.setdefault(uri, set()).add(int(version))
    for uri, version in committed.items():
        assert set(range(1, version + 1)) <= seen.get(uri, set()), f"{uri} v{version} lacks audit events"


def test_verify_names_each_altered_and_missing_event(server, tenants):
    a, _ = tenants
    server.post(tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"}), token=server.token(a))
    assert verify().returncode == 0  # seals everything so far
    first, second = psql(f"SELECT string_agg(event_id::text, ',' ORDER BY event_id) FROM "
                         f"(SELECT event_id FROM rampart.audit_events WHERE tenant_id = '{a}' "
                         f"ORDER BY event_id LIMIT 2) e").split(",")
    psql(f"CREATE TABLE public.saved_audit AS SELECT * FROM rampart.audit_events "
         f"WHERE tenant_id = '{a}' AND event_id IN ({first}, {second})")
    try:
        psql(f"UPDATE rampart.audit_events SET reason = 'nothing to see' WHERE tenant_id = '{a}' AND event_id = {first}")
        psql(f"DELETE FROM rampart.audit_events WHERE tenant_id = '{a}' AND event_id = {second}")
        result = verify()
        assert result.returncode == 1
        assert f"event {first} of tenant {a} was altered" in result.stdout
        assert f"event {second} of tenant {a} is missing" in result.stdout
        assert result.stderr.startswith("error: audit chain broken: 2 problem(s)")
    finally:
        psql(f"UPDATE rampart.audit_events e SET reason = s.reason FROM public.saved_audit s "
             f"WHERE e.tenant_id = s.tenant_id AND e.event_id = s.event_id")
        psql("SET session_replication_role = replica; INSERT INTO rampart.audit_events OVERRIDING SYSTEM VALUE "
             f"SELECT * FROM public.saved_audit s WHERE NOT EXISTS (SELECT 1 FROM rampart.audit_events e "
             f"WHERE e.tenant_id = s.tenant_id AND e.event_id = s.event_id)")
        psql("DROP TABLE public.saved_audit")
    assert verify().returncode == 0


def test_metrics_and_alert_rules(server, tenants):
    import re

    import yaml

    token = server.token(tenants[0])
    server.post(tool_call("read_resource", {"uri": f"tenant://{tenants[0]}/sales/q1"}), token=token)
    server.post(request("tools/list"), token="bad")
    text = httpx.get(f"http://{server.metrics_listen}/metrics", timeout=10).text
    assert re.search(r'rampart_requests_total\{method="tools/call",status="200"\} \d+', text)
    assert 'rampart_request_duration_seconds_bucket{method="tools/call"' in text
    assert re.search(r'rampart_denials_total\{layer="auth",reason="not a compact jws"\} \d+', text)
    assert "rampart_db_connections_in_use" in text
    assert token not in text

    rules = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "../../ops/prometheus/alerts.yml")))
    exported = set(re.findall(r"^(rampart_[a-z_]+?)(?:_bucket|_sum|_count)?[{ ]", text, re.M))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {"RampartAuthenticationFailureSpike", "RampartContextViolations", "RampartRateLimitRefusals",
            "RampartConversationCreationSpike"} <= {rule["alert"] for rule in alerts}
    for rule in alerts:
        for series in set(re.findall(r"rampart_[a-z_]+", rule["expr"])):
            base = re.sub(r"_(bucket|sum|count)$", "", series)
            known = {"rampart_requests_total", "rampart_request_duration_seconds", "rampart_denials_total",
                     "rampart_audit_events_total", "rampart_conversations_created_total", "rampart_audit_dropped_total",
                     "rampart_audit_sealed_total", "rampart_db_connections_in_use", "rampart_audit_placeholders_total"}
            assert base in known, f"{rule['alert']} uses unknown series {series}"
    assert "rampart_denials_total" in exported and "rampart_requests_total" in exported


def test_hostile_bytes_in_recorded_fields_never_stop_the_audit_trail(server, tenants):
    """Every request field that reaches the audit trail, with bytes PostgreSQL cannot store; the
    next legitimate request's batched events must still arrive, from the same process."""
    a, _ = tenants
    token = server.token(a)
    nul = "\u0000"
    hostile = [
        # a stateless notification and requests whose method holds NUL: refused before auth
        (dict(jsonrpc="2.0", method=f"notifications/{nul}x", params={}), None, "2026-07-28"),
        (request(f"tools/{nul}list"), None, "2026-07-28"),
        (request(f"tools/{nul}list"), token, "2026-07-28"),
        # a tool name, a URI, a JSON-RPC id, a handle
        (tool_call(f"read{nul}resource", {}), token, "2026-07-28"),
        (tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1{nul}"}), token, "2026-07-28"),
        (request("resources/read", {"uri": f"tenant://{a}/{nul}/q1"}), token, "2026-07-28"),
        (dict(request("tools/list"), id=f"id-{nul}-" + "x" * 200), token, "2026-07-28"),
        (tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": f"{nul}" * 20}), token,
         "2026-07-28"),
        # the handshake era's method and session header (a header cannot carry NUL: DEL and a long id)
        (dict(jsonrpc="2.0", id=1, method=f"tools/{nul}list", params={}), token, "2025-11-25"),
    ]
    for body, sent_token, version in hostile:
        headers = {"Mcp-Session-Id": "\x7f" + "s" * 300} if version.startswith("2025") else None
        response = server.post(body, token=sent_token, version=version, headers=headers,
                               method=body.get("method", "").replace(nul, "?"),
                               name="x" if body.get("method") in ("tools/call", "resources/read") else None)
        assert response.status_code in (200, 202, 400, 401, 404), (body, response.status_code, response.text[:200])
    legit = server.post(request("tools/list"), token=token)
    assert legit.status_code == 200
    deadline = time.time() + 5
    while time.time() < deadline:
        ids = {event["request_id"] for event in export(a)}
        if legit.headers["x-request-id"] in ids:
            break
        time.sleep(0.2)
    assert legit.headers["x-request-id"] in ids, "the batched event of the next request never arrived"
    everything = run("audit", "export").stdout
    assert "\\u0000" not in everything
    assert verify().returncode == 0

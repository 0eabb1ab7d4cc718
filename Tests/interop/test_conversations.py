"""Conversation context (CONTRACT.md §9) in both eras: scope narrows everything a call can see,
caps and lifetimes hold, revocation reaches another process at once, and a conversation of
one principal answers another exactly like an unknown one."""
import base64
import copy
import json
import os
import subprocess
import threading
import time

import httpx
import pytest

from conftest import run
from rampart_server import RampartServer, request, tool_call

ERAS = ["2026-07-28", "2025-11-25"]


class Caller:
    """One principal talking to one server in one era (a session in the handshake era)."""

    def __init__(self, server, token, era):
        self.server, self.token, self.era = server, token, era
        self.modern = era == "2026-07-28"
        self.session = None
        if not self.modern:
            body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": era, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
            response = server.post(body, token=token, version=None)
            assert response.status_code == 200, response.text
            self.session = response.headers["mcp-session-id"]

    def post(self, body):
        headers = {"Mcp-Session-Id": self.session} if self.session else None
        return self.server.post(body, token=self.token, version=self.era, headers=headers)

    def call(self, name, arguments):
        response = self.post(tool_call(name, arguments, modern=self.modern))
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def method(self, name, params=None):
        return self.post(request(name, params, modern=self.modern))


def text(result):
    return result["content"][0]["text"]


@pytest.mark.parametrize("era", ERAS)
def test_a_sales_conversation_never_reaches_hr(server, tenants, era):
    a, _ = tenants
    sales_only = server.token(a, rampart_scope=[f"tenant://{a}/sales/*"])
    caller = Caller(server, sales_only, era)
    opened = caller.call("open_conversation", {"scope": [f"tenant://{a}/sales/*"]})
    handle = opened["structuredContent"]["conversation"]
    widened = caller.call("open_conversation", {"scope": [f"tenant://{a}/*"]})
    assert widened["isError"] and "only narrow" in text(widened)
    foreign = caller.call("open_conversation", {"scope": [f"tenant://{tenants[1]}/*"]})
    assert foreign["isError"]

    hr = f"tenant://{a}/hr/aardvark"
    encoded = "=?base64?" + base64.b64encode(hr.encode()).decode() + "?="
    reads = [hr, hr.upper(), f"tenant://{a}/HR/aardvark", f"tenant://{a}/h%72/aardvark", f"tenant://{a}/sales/../hr/aardvark",
             f"tenant://{a}//hr/aardvark", hr + "/", f"tenant://{a}/hr/*", f"tenant://{a}/hr", encoded, hr + "?x=1",
             f" {hr}", f"tenant://{a}/hr/aardvark#x", f"TENANT://{a}/hr/aardvark", f"tenant://{a}/hr/aardvark\u0000"]
    attempts = []
    for uri in reads:
        for arguments in ({"uri": uri}, {"uri": uri, "conversation": handle}):
            attempts.append(("read_resource", arguments))
    for conversation in ({}, {"conversation": handle}):
        attempts += [
            ("list_resources", {"collection": "hr", **conversation}),
            ("list_resources", {**conversation}),
            ("search_resources", {"query": "aardvark person", **conversation}),
            ("search_resources", {"query": "123-45-6789", **conversation}),
            ("search_resources", {"query": "aardvark", "collection": "hr", **conversation}),
            ("execute_query", {"collection": "hr", **conversation}),
            ("execute_query", {"collection": "hr", "aggregate": [{"fn": "count"}], **conversation}),
            ("execute_query", {"collection": "sales", "where": [{"field": "ssn", "op": "ne", "value": ""}], **conversation}),
            ("execute_query", {"collection": "hr", "group_by": ["ssn"], **conversation}),
            ("write_resource", {"uri": hr, "content": {"name": "x"}, **conversation}),
        ]
    assert len(attempts) > 20
    for name, arguments in attempts:
        result = caller.call(name, arguments)
        body = json.dumps(result)
        assert "aardvark person" not in body and "123-45-6789" not in body, (name, arguments, body)
        if result["isError"]:
            assert text(result) == "resource not found" or text(result).startswith("invalid argument"), body
        else:
            assert "/hr/" not in json.dumps(result["structuredContent"]), (name, arguments, body)
        if name == "execute_query" and not result["isError"] and arguments["collection"] == "hr":
            rows = result["structuredContent"]["rows"]
            assert rows in ([], [{"count": 0}]), (arguments, rows)
    resource = caller.method("resources/read", {"uri": hr})
    assert "aardvark person" not in resource.text and "resource not found" in resource.text
    listed = caller.method("resources/list").json()["result"]["resources"]
    assert listed and all("/sales/" in entry["uri"] for entry in listed)
    assert run("admin", "resource", "get", hr, "--json").returncode == 0  # untouched


@pytest.mark.parametrize("era", ERAS)
def test_the_distinct_resource_cap(server, tenants, era):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--max-resources-per-conversation", "2").returncode == 0
    caller = Caller(server, server.token(a), era)
    handle = caller.call("open_conversation", {})["structuredContent"]["conversation"]
    for conversation in ({"conversation": handle}, {}):
        for doc in ("q1", "q2", "q1"):
            assert not caller.call("read_resource", {"uri": f"tenant://{a}/sales/{doc}", **conversation})["isError"]
        capped = caller.call("read_resource", {"uri": f"tenant://{a}/sales/q3", **conversation})
        assert capped["isError"] and "resource limit" in text(capped)
        found = caller.call("search_resources", {"query": "deals", **conversation})["structuredContent"]["hits"]
        assert found == []  # q3 matches, but the conversation may not take a third resource


@pytest.mark.parametrize("era", ERAS)
def test_an_idle_conversation_expires(server, tenants, era):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--conversation-idle-seconds", "2").returncode == 0
    caller = Caller(server, server.token(a), era)
    handle = caller.call("open_conversation", {})["structuredContent"]["conversation"]
    assert not caller.call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": handle})["isError"]
    time.sleep(3)
    if caller.session:  # the session itself idled out
        assert caller.method("tools/list").status_code == 404
        return
    gone = caller.call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": handle})
    assert gone["isError"] and text(gone) == "conversation not found"


@pytest.mark.parametrize("era", ERAS)
def test_the_conversation_creation_limit(server, tenants, era):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--conversations-per-user-per-minute", "2").returncode == 0
    caller = Caller(server, server.token(a), era)  # the handshake session is the first of the two
    opened = 0 if caller.session is None else 1
    while opened < 2:
        assert not caller.call("open_conversation", {})["isError"]
        opened += 1
    refused = caller.post(tool_call("open_conversation", {}, modern=caller.modern))
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == -32050 and error["data"]["limit"] == "conversation_creation"
    assert error["data"]["retryAfterMs"] > 0
    other_user = Caller(server, server.token(a, sub="bob"), era)
    assert not other_user.call("open_conversation", {})["isError"]


@pytest.mark.parametrize("era", ERAS)
def test_revocation_reaches_another_process_within_a_second(server, keys, tenants, era):
    a, _ = tenants
    # Two processes behind one public URL, as behind a load balancer: tokens carry that audience.
    second = RampartServer(keys, extra_env={"RAMPART_PUBLIC_URL": server.url})
    try:
        token = server.token(a)
        caller = Caller(second, token, era)
        handle = Caller(server, token, "2026-07-28").call("open_conversation", {})  # opened on the first process
        handle = handle["structuredContent"]["conversation"] if caller.modern else caller.session
        arguments = {"uri": f"tenant://{a}/sales/q1"} | ({"conversation": handle} if caller.modern else {})
        assert not caller.call("read_resource", arguments)["isError"]

        revoked = run("admin", "conversation", "revoke", handle)
        assert revoked.returncode == 0, revoked.stderr
        started = time.monotonic()
        response = caller.post(tool_call("read_resource", arguments, modern=caller.modern))
        assert time.monotonic() - started < 1.0
        if caller.modern:
            assert response.json()["result"]["isError"] and text(response.json()["result"]) == "conversation not found"
        else:
            assert response.status_code == 404
        listed = json.loads(run("admin", "conversation", "list", a, "--json").stdout)
        assert {c["conversation"]: c["status"] for c in listed}[handle] == "revoked"
    finally:
        second.stop()


REVOCATION_ROUNDS = int(os.environ.get("RAMPART_REVOCATION_ROUNDS", "4"))


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("round_number", range(REVOCATION_ROUNDS))
def test_revocation_under_concurrent_use_of_another_process(server, keys, tenants, era, round_number):
    """The intermittent case (issue 15): while 8 callers keep using a conversation through a second
    process — data calls and, in the handshake era, the cached session path (tools/list) — a
    revocation from the CLI; no request sent more than 1 s after the CLI returned may succeed."""
    a, _ = tenants
    second = RampartServer(keys, extra_env={"RAMPART_PUBLIC_URL": server.url})
    try:
        token = server.token(a)
        opener = Caller(second, token, era)
        handle = (Caller(server, token, era).call("open_conversation", {})["structuredContent"]["conversation"]
                  if opener.modern else opener.session)
        stop = threading.Event()
        late = []
        revoked_at = []

        honoured_before = []
        refused_after = []

        def use(index):
            caller = copy.copy(opener)  # the same session, no new handshake
            number = 0
            while not stop.is_set():
                number += 1
                sent = time.monotonic()
                if not caller.modern and number % 2:
                    response = caller.method("tools/list")
                    honoured = response.status_code == 200 and "tools" in response.text
                else:
                    arguments = {"uri": f"tenant://{a}/sales/q{number % 3 + 1}"}
                    if caller.modern:
                        arguments["conversation"] = handle
                    response = caller.post(tool_call("read_resource", arguments, modern=caller.modern))
                    honoured = response.status_code == 200 and '"isError":false' in response.text.replace(" ", "")
                if honoured and revoked_at and sent > revoked_at[0] + 1.0:
                    late.append((index, number, round(sent - revoked_at[0], 3)))
                elif honoured and not revoked_at:
                    honoured_before.append(index)
                elif not honoured and revoked_at and sent > revoked_at[0] + 1.0:
                    refused_after.append(index)

        threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.7 + 0.1 * round_number)
        revoked = run("admin", "conversation", "revoke", handle)
        revoked_at.append(time.monotonic())
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(2.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert not late, late[:5]
        assert set(honoured_before) == set(refused_after) == set(range(8)), (honoured_before[:3], refused_after[:3])
    finally:
        second.stop()


@pytest.mark.parametrize("era", ERAS)
def test_alices_conversation_answers_bob_like_an_unknown_one(server, tenants, era):
    a, _ = tenants
    alice = Caller(server, server.token(a, sub="alice"), era)
    bob = Caller(server, server.token(a, sub="bob"), era)
    if alice.modern:
        handle = alice.call("open_conversation", {})["structuredContent"]["conversation"]
        answers = [bob.post(tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": c}))
                   for c in (handle, "x" * 32)]
    else:
        answers = []
        for session in (alice.session, "y" * 32):
            bob.session = session
            answers.append(bob.method("tools/list"))
    bodies = [(r.status_code, json.dumps({k: v for k, v in r.json().items() if k != "id"}, sort_keys=True))
              for r in answers]
    assert bodies[0] == bodies[1]
    assert "alice" not in answers[0].text


def test_limits_and_conversations_from_the_cli(tenants):
    a, _ = tenants
    shown = run("admin", "limits", "set", a, "--user-per-minute", "7", "--default-scope", f"tenant://{a}/sales/*",
                "--json")
    assert shown.returncode == 0, shown.stderr
    limits = json.loads(shown.stdout)
    assert limits["userPerMinute"] == 7 and limits["defaultScope"] == [f"tenant://{a}/sales/*"]
    assert limits["tenantPerMinute"] == 1000
    bad = run("admin", "limits", "set", a, "--default-scope", "tenant://other/*")
    assert bad.returncode == 1 and "another tenant" in bad.stderr
    zero = run("admin", "limits", "set", a, "--user-per-minute", "0")
    assert zero.returncode == 1 and "user-per-minute" in zero.stderr
    unknown = run("admin", "conversation", "revoke", "z" * 20)
    assert unknown.returncode == 1 and "no active conversation" in unknown.stderr


def test_the_default_scope_applies_to_new_conversations(server, tenants):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--default-scope", f"tenant://{a}/sales/*").returncode == 0
    caller = Caller(server, server.token(a), "2026-07-28")
    assert caller.call("read_resource", {"uri": f"tenant://{a}/hr/aardvark"})["isError"]
    opened = caller.call("open_conversation", {})["structuredContent"]
    assert opened["scope"] == [f"tenant://{a}/sales/*"]


@pytest.mark.parametrize("era", ERAS)
def test_aggregate_rows_count_their_documents_against_the_cap(server, tenants, era):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--max-resources-per-conversation", "2").returncode == 0
    caller = Caller(server, server.token(a), era)
    handle = caller.call("open_conversation", {})["structuredContent"]["conversation"]
    conversation = {"conversation": handle} if caller.modern else {}
    # Groups in order: dana (q1, q3) fits the cap of 2; lee (q2) would be a third resource.
    grouped = caller.call("execute_query", {"collection": "sales", "group_by": ["owner"],
                                            "aggregate": [{"fn": "count"}], **conversation})
    assert grouped["structuredContent"]["rows"] == [{"owner": "dana", "count": 2}], grouped
    # Per-document groups are per-document rows: only as many as the cap leaves.
    by_id = caller.call("execute_query", {"collection": "sales", "group_by": ["title"], **conversation})
    assert len(by_id["structuredContent"]["rows"]) == 2, by_id
    # An aggregate over more documents than the cap can never be answered.
    fresh = Caller(server, server.token(a, sub="counter"), era)
    count = fresh.call("execute_query", {"collection": "sales", "aggregate": [{"fn": "count"}]})
    assert count["structuredContent"]["rows"] == [], count


def test_handles_of_others_never_spend_the_owners_conversation_limit(server, tenants):
    a, _ = tenants
    assert run("admin", "limits", "set", a, "--conversation-per-minute", "3", "--user-per-minute", "1000",
               "--tenant-per-minute", "1000", "--resource-per-minute", "1000").returncode == 0
    alice = Caller(server, server.token(a, sub="alice"), "2026-07-28")
    handle = alice.call("open_conversation", {})["structuredContent"]["conversation"]
    mallory = server.token(a, sub="mallory")
    read = tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": handle})
    for _ in range(6):
        assert server.post(read, token=mallory).status_code in (200, 429)
    for _ in range(3):
        assert not alice.call("read_resource", {"uri": f"tenant://{a}/sales/q1", "conversation": handle})["isError"]


def test_a_revoked_implicit_conversation_stays_revoked_after_the_sweep(server, tenants):
    a, _ = tenants
    token = server.token(a, sub="sweeper")
    read = tool_call("read_resource", {"uri": f"tenant://{a}/sales/q1"})
    assert not server.post(read, token=token).json()["result"]["isError"]
    listed = json.loads(run("admin", "conversation", "list", a, "--json").stdout)
    implicit = next(c["conversation"] for c in listed if c["subject"] == "sweeper" and c["kind"] == "implicit")
    assert run("admin", "conversation", "revoke", implicit).returncode == 0
    subprocess.run(["psql", "-qAt", os.environ["TEST_SUPERUSER_URL"], "-c",
                    f"UPDATE rampart.conversations SET revoked_at = now() - interval '2 hours' "
                    f"WHERE conversation_id = '{implicit}'; SELECT rampart.sweep_conversations(3600)"], check=True)
    again = server.post(read, token=token).json()["result"]
    assert again["isError"] and text(again) == "conversation not found"

"""Sanitization out (CONTRACT.md §11): a redacted field's raw value never reaches a caller who
may not see it, in any response form; queries cannot use it; detection masks PII when opted in."""
import json
import random
import string

import pytest

from conftest import run
from rampart_server import request, tool_call


def rule(tenant, collection, field, action, unless=None):
    args = ["admin", "redact", "add", tenant, collection, field, "--action", action]
    result = run(*(args + (["--unless-scope", unless] if unless else [])))
    assert result.returncode == 0, result.stderr


def put(tenant, uri, body):
    result = run("admin", "resource", "put", uri, "--data", json.dumps(body))
    assert result.returncode == 0, result.stderr


def secret(rng):
    return "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


def every_response(server, tenant, token, hidden_words):
    """Every way to get at the collection: yields (what, response text)."""
    calls = [
        ("read", tool_call("read_resource", {"uri": f"tenant://{tenant}/people/p0"})),
        ("resources/read", request("resources/read", {"uri": f"tenant://{tenant}/people/p0"})),
        ("list", tool_call("list_resources", {"collection": "people"})),
        ("query rows", tool_call("execute_query", {"collection": "people"})),
        ("query count", tool_call("execute_query", {"collection": "people", "aggregate": [{"fn": "count"}]})),
        ("query group team", tool_call("execute_query", {"collection": "people", "group_by": ["team"],
                                                          "aggregate": [{"fn": "count"}]})),
        ("query where team", tool_call("execute_query", {"collection": "people",
                                                          "where": [{"field": "team", "op": "ne", "value": ""}]})),
    ]
    for word in hidden_words:
        calls.append((f"search {word}", tool_call("search_resources", {"query": word})))
    for field in ("ssn", "contact.email", "contact", "history", "history.ssn", "notes"):
        calls += [
            (f"group {field}", tool_call("execute_query", {"collection": "people", "group_by": [field]})),
            (f"where {field}", tool_call("execute_query", {"collection": "people",
                                                           "where": [{"field": field, "op": "ne", "value": "x"}]})),
            (f"order {field}", tool_call("execute_query", {"collection": "people", "order_by": [field]})),
            (f"max {field}", tool_call("execute_query", {"collection": "people",
                                                         "aggregate": [{"fn": "max", "field": field}]})),
        ]
    for what, body in calls:
        response = server.post(body, token=token)
        assert response.status_code == 200, (what, response.text)
        yield what, response.text


@pytest.mark.parametrize("seed", range(5))
def test_a_redacted_value_never_reaches_a_caller_without_the_scope(server, tenants, seed):
    rng = random.Random(seed)
    tenant = tenants[0]
    rule(tenant, "people", "ssn", "redact", unless="pii:read")
    rule(tenant, "people", "contact.email", "remove")
    rule(tenant, "people", "notes", "mask")
    hidden, masked_notes = [], []
    for index in range(4):
        ssn, email, note, old = secret(rng), secret(rng) + "@example.com", secret(rng) + " " + secret(rng), secret(rng)
        hidden += [ssn, email.split("@")[0], note.split()[0], old]
        masked_notes.append(note)
        put(tenant, f"tenant://{tenant}/people/p{index}", {
            "name": f"person {index}", "team": rng.choice(["red", "blue"]), "ssn": ssn,
            "contact": {"email": email, "city": "Oslo"}, "notes": note,
            "history": [{"ssn": old, "year": 2020 + index}],
        })
    token = server.token(tenant, scope="resources:read resources:search resources:query")
    for what, text in every_response(server, tenant, token, rng.sample(hidden, 4)):
        for value in hidden:
            assert value not in text, (what, value, text[:300])
    read = server.post(tool_call("read_resource", {"uri": f"tenant://{tenant}/people/p0"}), token=token).json()
    content = read["result"]["structuredContent"]["content"]
    assert content["ssn"] == "***REDACTED***" and content["history"][0]["ssn"] == "***REDACTED***"
    assert "email" not in content["contact"] and content["contact"]["city"] == "Oslo"
    assert content["notes"].endswith(masked_notes[0][-4:]) and set(content["notes"][:-4]) == {"*"}
    refused = server.post(tool_call("execute_query", {"collection": "people", "group_by": ["ssn"]}), token=token)
    assert refused.json()["result"]["isError"]

    privileged = server.token(tenant, scope="resources:read pii:read")
    seen = server.post(tool_call("read_resource", {"uri": f"tenant://{tenant}/people/p0"}), token=privileged).json()
    assert seen["result"]["structuredContent"]["content"]["ssn"] == hidden[0]


def test_redaction_rules_from_the_cli(tenants):
    tenant = tenants[0]
    rule(tenant, "people", "ssn", "mask")
    listed = json.loads(run("admin", "redact", "list", tenant, "--json").stdout)
    assert listed == [{"action": "mask", "collection": "people", "field": "ssn", "unless_scope": None}]
    bad = run("admin", "redact", "add", tenant, "people", "a..b", "--action", "mask")
    assert bad.returncode == 1 and "invalid field" in bad.stderr
    assert run("admin", "redact", "remove", tenant, "people", "ssn").returncode == 0
    missing = run("admin", "redact", "remove", tenant, "people", "ssn")
    assert missing.returncode == 1 and "no redaction rule" in missing.stderr


def test_detection_masks_pii_and_secrets_when_on(server, tenants):
    tenant = tenants[0]
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"
    body = {"text": f"mail bob@example.com card 4111 1111 1111 1111 not 4111 1111 1111 1112 "
                    f"iban DE89 3704 0044 0532 0130 00 ssn 123-45-6789 key AKIAABCDEFGHIJKLMNOP token {jwt_like}"}
    put(tenant, f"tenant://{tenant}/notes/n1", body)
    token = server.token(tenant)
    call = tool_call("read_resource", {"uri": f"tenant://{tenant}/notes/n1"})
    plain = server.post(call, token=token).json()["result"]["structuredContent"]["content"]["text"]
    assert "bob@example.com" in plain
    assert run("admin", "redact", "detect", tenant, "on").returncode == 0
    response = server.post(call, token=token)
    text = response.json()["result"]["structuredContent"]["content"]["text"]
    for raw in ("bob@example.com", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "123-45-6789",
                "AKIAABCDEFGHIJKLMNOP", jwt_like):
        assert raw not in text, raw
    assert "4111 1111 1111 1112" in text  # fails the Luhn check: not a card
    assert text.count("*") > 20
    events = [json.loads(line) for line in run("audit", "export", "--tenant", tenant).stdout.splitlines()]
    read = next(e for e in events if e["request_id"] == response.headers["x-request-id"])
    assert read["details"]["detected"]["card"] == 1 and read["details"]["detected"]["email"] == 1


@pytest.mark.parametrize("action, field", [("redact", "diagnosis"), ("remove", "diagnosis"), ("mask", "diagnosis"),
                                           ("redact", "record.diagnosis"), ("remove", "record.diagnosis")])
def test_search_is_no_oracle_for_hidden_values(server, tenants, action, field):
    """A visible term with a hidden one, or excluding a hidden one, answers the same whatever the
    hidden field holds: matching and ranking see only what the caller sees."""
    tenant = tenants[0]
    rule(tenant, "patients", field, action)
    for doc, condition in (("p1", "diabetes"), ("p2", "migraine")):
        body = {"name": "alice", "note": "routine visit"}
        if "." in field:
            body["record"] = {"diagnosis": condition}
        else:
            body["diagnosis"] = condition
        put(tenant, f"tenant://{tenant}/patients/{doc}", body)
    token = server.token(tenant)

    def answer(query, doc):
        call = tool_call("search_resources", {"query": query, "collection": "patients"})
        hits = server.post(call, token=token).json()["result"]["structuredContent"]["hits"]
        return [(h["score"], h["snippet"]) for h in hits if h["uri"].endswith(f"/{doc}")]

    for query in ("alice diabetes", "alice -diabetes", "alice migraine", "alice -migraine", "diabetes",
                  '"alice diabetes"', "alice OR diabetes"):
        assert answer(query, "p1") == answer(query, "p2"), query
    # What the caller sees still matches.
    assert answer("alice routine", "p1") and answer("alice routine", "p1") == answer("alice routine", "p2")


def test_snippets_are_scanned_for_pii_before_they_are_marked(server, tenants):
    tenant = tenants[0]
    put(tenant, f"tenant://{tenant}/notes/card", {"text": "paid with 4111 1111 1111 1111 yesterday, mail bob@example.com"})
    assert run("admin", "redact", "detect", tenant, "on").returncode == 0
    token = server.token(tenant)
    for query in ("1111", "paid", "yesterday"):
        hits = server.post(tool_call("search_resources", {"query": query, "collection": "notes"}), token=token).json()
        snippets = [h["snippet"] for h in hits["result"]["structuredContent"]["hits"]]
        assert snippets, query
        for snippet in snippets:
            assert "4111" not in snippet and "bob@example.com" not in snippet, (query, snippet)


def test_a_write_under_redaction_keeps_what_the_caller_cannot_see(server, tenants):
    tenant = tenants[0]
    rule(tenant, "staff", "ssn", "redact")
    rule(tenant, "staff", "contact.phone", "remove")
    rule(tenant, "staff", "salary", "mask")
    stored = {"name": "Ann", "ssn": "123-45-6789", "salary": 98765, "contact": {"phone": "555-0100", "city": "Oslo"},
              "history": [{"ssn": "111-11-1111", "year": 2020}]}
    put(tenant, f"tenant://{tenant}/staff/ann", stored)
    token = server.token(tenant, scope="resources:read resources:write")
    uri = f"tenant://{tenant}/staff/ann"
    seen = server.post(tool_call("read_resource", {"uri": uri}), token=token).json()["result"]["structuredContent"]
    content = seen["content"]
    assert content["ssn"] == "***REDACTED***" and "phone" not in content["contact"]
    content["name"] = "Ann B."  # a read-modify-write, placeholders and all
    written = server.post(tool_call("write_resource", {"uri": uri, "content": content,
                                                       "if_version": seen["version"]}), token=token).json()
    assert written["result"]["isError"] is False, written
    now = json.loads(run("admin", "resource", "get", uri, "--json").stdout)
    body = now.get("content", now.get("body", now))
    assert body["name"] == "Ann B." and body["ssn"] == "123-45-6789" and body["salary"] == 98765
    assert body["contact"] == {"phone": "555-0100", "city": "Oslo"} and body["history"][0]["ssn"] == "111-11-1111"
    # Dropping an object that holds a hidden field would destroy it: refused, nothing written.
    refused = server.post(tool_call("write_resource", {"uri": uri, "content": {"name": "x", "history": []}}),
                          token=token).json()["result"]
    assert refused["isError"] is True and "fields you cannot see" in refused["content"][0]["text"]
    assert json.loads(run("admin", "resource", "get", uri, "--json").stdout) == now

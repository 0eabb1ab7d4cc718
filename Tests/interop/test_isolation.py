"""Tenant isolation as a client sees it (CONTRACT.md §7): another tenant's document answers
exactly like a missing one, and no listing, search or query ever returns another tenant's data."""
import json

import pytest

from conftest import run
from rampart_server import request, tool_call


def without_id(response):
    body = response.json()
    body.pop("id")
    return json.dumps(body, sort_keys=True), response.status_code, response.headers["content-type"]


def initialize(server, token):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
    return server.post(body, token=token, version=None).headers["mcp-session-id"]


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
def test_a_foreign_document_answers_exactly_like_a_missing_one(server, tenants, era):
    a, b = tenants
    token = server.token(a)
    modern = era == "2026-07-28"
    headers = None if modern else {"Mcp-Session-Id": initialize(server, token)}
    foreign, missing = f"tenant://{b}/sales/q1", f"tenant://{a}/sales/nope"

    def post(body):
        return server.post(body, token=token, version=era, headers=headers)

    for make in (lambda uri, id: tool_call("read_resource", {"uri": uri}, id=id, modern=modern),
                 lambda uri, id: request("resources/read", {"uri": uri}, id=id, modern=modern)):
        answers = [post(make(foreign, 7)), post(make(missing, 8))]
        assert without_id(answers[0]) == without_id(answers[1])
        assert b not in answers[0].text and "nope" not in answers[1].text
        assert [answer.json()["id"] for answer in answers] == [7, 8]
        assert "resource not found" in answers[0].text

    write = post(tool_call("write_resource", {"uri": foreign, "content": {"x": 1}}, id=9, modern=modern)).json()
    assert write["result"]["isError"] and write["result"]["content"][0]["text"] == "resource not found"
    unchanged = run("admin", "resource", "get", foreign, "--json")
    assert json.loads(unchanged.stdout)["version"] == 1


def test_listings_searches_and_queries_stay_in_the_tenant(server, tenants):
    a, b = tenants
    token = server.token(a)

    def structured(name, arguments):
        response = server.post(tool_call(name, arguments), token=token)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert not result["isError"], result
        return result["structuredContent"]

    listed = structured("list_resources", {"limit": 100})["resources"]
    assert listed and all(entry["uri"].startswith(f"tenant://{a}/") for entry in listed)
    assert structured("search_resources", {"query": "bumblebee"})["hits"] == []
    assert all(hit["uri"].startswith(f"tenant://{a}/") for hit in structured("search_resources", {"query": "q3"})["hits"])
    rows = structured("execute_query", {"collection": "sales"})["rows"]
    assert len(rows) == 3 and all(row["uri"].startswith(f"tenant://{a}/") for row in rows)
    groups = structured("execute_query", {"collection": "sales", "aggregate": [{"fn": "count"}]})["rows"]
    assert groups == [{"count": 3}]
    everything = server.post(request("resources/list"), token=token).json()["result"]["resources"]
    assert everything and all(entry["uri"].startswith(f"tenant://{a}/") for entry in everything)
    assert b not in json.dumps([listed, everything])


def test_a_cursor_means_nothing_to_another_tenant(server, tenants):
    a, b = tenants
    first = server.post(tool_call("list_resources", {"limit": 1}), token=server.token(a)).json()
    cursor = first["result"]["structuredContent"]["nextCursor"]
    reused = server.post(tool_call("list_resources", {"limit": 1, "cursor": cursor}), token=server.token(b)).json()
    assert reused["result"]["isError"] is True
    assert 'invalid argument "cursor"' in reused["result"]["content"][0]["text"]


def test_query_fields_are_checked_and_values_are_never_sql(server, tenants):
    a, _ = tenants
    token = server.token(a)
    bad = server.post(tool_call("execute_query", {"collection": "sales", "group_by": ["region; DROP TABLE x"]}),
                      token=token).json()["result"]
    assert bad["isError"] and 'invalid argument "group_by' in bad["content"][0]["text"]
    injected = server.post(tool_call("execute_query", {"collection": "sales", "where": [
        {"field": "owner", "op": "eq", "value": "dana' OR '1'='1"}]}), token=token).json()["result"]
    assert injected["structuredContent"] == {"rows": []}

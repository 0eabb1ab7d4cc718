"""The Python `mcp` client (2.3) against the real server: it lands on 2026-07-28 by itself, and
pinned to the handshake era it works too; every tool and resources/* in both."""
import asyncio
import json

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def session(server, token, mode):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    return http, Client(streamable_http_client(server.url, http_client=http), mode=mode)


async def use_every_tool(server, tenant, token, mode):
    http, client = session(server, token, mode)
    async with http, client:
        expected_version = "2026-07-28" if mode == "auto" else "2025-11-25"
        assert client.protocol_version == expected_version

        tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == [
            "read_resource", "list_resources", "search_resources", "write_resource", "execute_query",
            "open_conversation"]
        assert all(tool.input_schema["additionalProperties"] is False for tool in tools.tools)

        read = await client.call_tool("read_resource", {"uri": f"tenant://{tenant}/sales/q1"})
        assert not read.is_error
        assert read.structured_content["content"]["amount"] == 100
        assert read.structured_content["version"] == 1
        assert json.loads(read.content[0].text) == read.structured_content

        first = await client.call_tool("list_resources", {"collection": "sales", "limit": 2})
        uris = [entry["uri"] for entry in first.structured_content["resources"]]
        assert uris == [f"tenant://{tenant}/sales/q1", f"tenant://{tenant}/sales/q2"]
        second = await client.call_tool("list_resources", {"collection": "sales", "limit": 2,
                                                           "cursor": first.structured_content["nextCursor"]})
        assert [entry["uri"] for entry in second.structured_content["resources"]] == [f"tenant://{tenant}/sales/q3"]
        assert "nextCursor" not in second.structured_content

        found = await client.call_tool("search_resources", {"query": "aardvark"})
        hits = found.structured_content["hits"]
        assert {hit["uri"] for hit in hits} == {
            f"tenant://{tenant}/sales/q1", f"tenant://{tenant}/sales/q2", f"tenant://{tenant}/hr/aardvark"}
        assert all(hit["score"] > 0 and "aardvark" in hit["snippet"].lower() for hit in hits)

        uri = f"tenant://{tenant}/notes/{mode}"
        created = await client.call_tool("write_resource", {"uri": uri, "content": {"text": "hello"}, "if_version": 0})
        assert created.structured_content == {"uri": uri, "version": 1}
        updated = await client.call_tool("write_resource", {"uri": uri, "content": {"text": "again"}, "if_version": 1})
        assert updated.structured_content == {"uri": uri, "version": 2}
        stale = await client.call_tool("write_resource", {"uri": uri, "content": {"text": "lost"}, "if_version": 1})
        assert stale.is_error and "version conflict" in stale.content[0].text

        grouped = await client.call_tool("execute_query", {
            "collection": "sales", "where": [{"field": "amount", "op": "ge", "value": 50}],
            "group_by": ["region"], "aggregate": [{"fn": "count"}, {"fn": "sum", "field": "amount"}],
            "order_by": ["region"]})
        assert grouped.structured_content["rows"] == [
            {"region": "amer", "count": 1, "sum(amount)": 250}, {"region": "emea", "count": 1, "sum(amount)": 100}]
        rows = await client.call_tool("execute_query", {
            "collection": "sales", "where": [{"field": "owner", "op": "in", "value": ["dana"]},
                                             {"field": "contact.country", "op": "eq", "value": "de"}]})
        assert [row["uri"] for row in rows.structured_content["rows"]] == [f"tenant://{tenant}/sales/q3"]

        opened = await client.call_tool("open_conversation", {"scope": [f"tenant://{tenant}/sales/*"],
                                                              "purpose": "quarterly review"})
        handle = opened.structured_content["conversation"]
        assert opened.structured_content["scope"] == [f"tenant://{tenant}/sales/*"]
        inside = await client.call_tool("read_resource", {"uri": f"tenant://{tenant}/sales/q2", "conversation": handle})
        assert not inside.is_error
        outside = await client.call_tool("read_resource", {"uri": f"tenant://{tenant}/hr/aardvark",
                                                           "conversation": handle})
        assert outside.is_error and outside.content[0].text == "resource not found"

        listed = await client.list_resources()
        assert f"tenant://{tenant}/sales/q1" in [str(resource.uri) for resource in listed.resources]
        contents = await client.read_resource(f"tenant://{tenant}/sales/q1")
        assert json.loads(contents.contents[0].text)["amount"] == 100
        templates = await client.list_resource_templates()
        assert templates.resource_templates[0].uri_template == f"tenant://{tenant}/{{collection}}/{{id}}"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_client_uses_every_tool(server, tenants, mode):
    tenant = tenants[0]
    asyncio.run(use_every_tool(server, tenant, server.token(tenant), mode))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_tools_list_shows_only_what_the_scopes_allow(server, tenants, mode):
    async def listed():
        http, client = session(server, server.token(tenants[0], scope="resources:read"), mode)
        async with http, client:
            return [tool.name for tool in (await client.list_tools()).tools]
    assert asyncio.run(listed()) == ["read_resource", "list_resources", "open_conversation"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_a_bad_argument_is_a_tool_error_naming_it(server, tenants, mode):
    async def calls():
        http, client = session(server, server.token(tenants[0]), mode)
        async with http, client:
            bad_uri = await client.call_tool("read_resource", {"uri": "tenant://x/../etc"})
            unknown = await client.call_tool("read_resource", {"uri": f"tenant://{tenants[0]}/sales/q1", "extra": 1})
            limit = await client.call_tool("list_resources", {"limit": 500})
            return bad_uri, unknown, limit
    bad_uri, unknown, limit = asyncio.run(calls())
    assert bad_uri.is_error and 'invalid argument "uri"' in bad_uri.content[0].text
    assert unknown.is_error and 'invalid argument "extra": unknown argument' in unknown.content[0].text
    assert limit.is_error and 'invalid argument "limit"' in limit.content[0].text

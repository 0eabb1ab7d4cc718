"""SQL round trips per data call (issue 13): a read is one statement to PostgreSQL in either era.

The server runs under a login role of its own, so `pg_stat_statements` (loaded by ops/test's
cluster) counts exactly this process's statements — its background services included, which
only makes the bound stricter."""
import os
import subprocess
import uuid

import pytest

from conftest import run
from rampart_server import RampartServer, create_tenant, request, tool_call

CALLS = 60
MOST_PER_CALL = 2


def superuser(sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", os.environ["TEST_SUPERUSER_URL"], "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def statements_of(role):
    return int(superuser(f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE userid = '{role}'::regrole"))


@pytest.fixture(scope="module")
def own_role_server(keys):
    # A fixed name, known to the PgBouncer of ops/test's second run (its auth file lists it).
    role = "rampart_test_counted"
    superuser(f"DROP ROLE IF EXISTS {role}")
    superuser("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    superuser(f"CREATE ROLE {role} LOGIN IN ROLE rampart_app")
    url = os.environ["TEST_DATABASE_URL"].replace("rampart_test_app@", f"{role}@")
    process = RampartServer(keys, extra_env={"RAMPART_DATABASE_URL": url})
    yield process, role
    process.stop()
    superuser(f"DROP ROLE {role}")


def initialize(server, token):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
    response = server.post(body, token=token, version=None)
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


@pytest.mark.parametrize("era", ["2026-07-28", "2025-11-25"])
@pytest.mark.parametrize("method", ["read_resource", "resources/read"])
def test_a_read_is_at_most_two_round_trips(own_role_server, era, method):
    server, role = own_role_server
    tenant = f"rt-{uuid.uuid4().hex[:8]}"
    uri = f"tenant://{tenant}/notes/one"
    create_tenant(tenant, documents=[(uri, {"title": "one"})])
    raised = run("admin", "limits", "set", tenant, "--tenant-per-minute", "6000", "--user-per-minute", "6000",
                 "--conversation-per-minute", "6000", "--resource-per-minute", "6000")
    assert raised.returncode == 0, raised.stderr
    token = server.token(tenant)
    modern = era == "2026-07-28"
    headers = None if modern else {"Mcp-Session-Id": initialize(server, token)}

    def read(id):
        body = (tool_call("read_resource", {"uri": uri}, id=id, modern=modern) if method == "read_resource"
                else request("resources/read", {"uri": uri}, id=id, modern=modern))
        response = server.post(body, token=token, version=era, headers=headers)
        assert response.status_code == 200 and "error" not in response.json(), response.text
        assert "one" in response.text

    read(0)  # warm: the principal cached, the implicit conversation opened, statements prepared
    before = statements_of(role)
    for id in range(1, CALLS + 1):
        read(id)
    per_call = (statements_of(role) - before) / CALLS
    assert 0.9 <= per_call <= MOST_PER_CALL, f"{per_call:.2f} statements per {method} in the {era} era"

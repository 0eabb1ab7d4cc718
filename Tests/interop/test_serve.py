"""`rampart serve`: configuration errors, the database-wall self-check, health, graceful stop."""
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, env_without_rampart, free_port


def serve_env(**extra):
    values = {
        "RAMPART_DATABASE_URL": os.environ["TEST_DATABASE_URL"],
        "RAMPART_JWT_ISSUERS": "https://issuer.example",
        "RAMPART_JWT_HS256_SECRET": "x" * 32,
        "RAMPART_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
    }
    values.update(extra)
    return env_without_rampart(**values)


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_for(url, status=200, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if http_status(url) == status:
            return True
        time.sleep(0.2)
    return False


def serve_until_exit(env, timeout=40):
    return subprocess.run([BIN, "serve"], capture_output=True, text=True, timeout=timeout, env=env)


def last_line(text):
    return text.strip().splitlines()[-1]


@pytest.mark.parametrize("extra,key", [
    ({"RAMPART_LISTEN": "nowhere"}, "RAMPART_LISTEN"),
    ({"RAMPART_LISTEN": "127.0.0.1:99999"}, "RAMPART_LISTEN"),
    ({"RAMPART_PUBLIC_URL": "ftp://x"}, "RAMPART_PUBLIC_URL"),
    ({"RAMPART_JWT_HS256_SECRET": "short"}, "RAMPART_JWT_HS256_SECRET"),
    ({"RAMPART_JWT_ISSUERS": ""}, "RAMPART_JWT_ISSUERS"),
    ({"RAMPART_DATABASE_URL": "mysql://x"}, "RAMPART_DATABASE_URL"),
    ({"RAMPART_ALLOWED_ORIGINS": "https://ok.example/path"}, "RAMPART_ALLOWED_ORIGINS"),
    ({"RAMPART_DB_POOL_SIZE": "0"}, "RAMPART_DB_POOL_SIZE"),
    ({"RAMPART_DB_POOL_SIZE": "many"}, "RAMPART_DB_POOL_SIZE"),
    ({"RAMPART_CALL_BATCH_MAX": "0"}, "RAMPART_CALL_BATCH_MAX"),
    ({"RAMPART_HTTP_IDLE_TIMEOUT": "0"}, "RAMPART_HTTP_IDLE_TIMEOUT"),
    ({"RAMPART_SURPRISE": "1"}, "RAMPART_SURPRISE"),
])
def test_a_bad_value_stops_startup_naming_the_key(extra, key):
    result = serve_until_exit(serve_env(**extra))
    assert result.returncode == 1
    line = last_line(result.stderr)
    assert line.startswith(f"error: {key}:"), result.stderr
    assert "x" * 32 not in result.stderr


def test_flags_override_the_environment():
    result = subprocess.run([BIN, "serve", "--listen", "bad"], capture_output=True, text=True, timeout=30,
                            env=serve_env(RAMPART_LISTEN="127.0.0.1:1"))
    assert result.returncode == 1 and last_line(result.stderr).startswith("error: RAMPART_LISTEN:")


def test_a_superuser_role_is_refused():
    result = serve_until_exit(serve_env(RAMPART_DATABASE_URL=os.environ["TEST_SUPERUSER_URL"],
                                        RAMPART_LISTEN=f"127.0.0.1:{free_port()}"))
    assert result.returncode == 1
    assert "refusing to start" in last_line(result.stderr) and "is a superuser" in last_line(result.stderr)


def psql_super(sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", os.environ["TEST_SUPERUSER_URL"], "-c", sql], check=True)


@pytest.mark.parametrize("lower,restore,problem", [
    ("ALTER TABLE rampart.documents DISABLE ROW LEVEL SECURITY",
     "ALTER TABLE rampart.documents ENABLE ROW LEVEL SECURITY",
     "row-level security is disabled on tenant table rampart.documents"),
    ("ALTER TABLE rampart.conversations NO FORCE ROW LEVEL SECURITY",
     "ALTER TABLE rampart.conversations FORCE ROW LEVEL SECURITY",
     "row-level security is not forced on tenant table rampart.conversations"),
])
def test_the_self_check_refuses_a_lowered_wall(lower, restore, problem):
    psql_super(f"SET ROLE rampart_owner; {lower}")
    try:
        result = serve_until_exit(serve_env(RAMPART_LISTEN=f"127.0.0.1:{free_port()}"))
    finally:
        psql_super(f"SET ROLE rampart_owner; {restore}")
    assert result.returncode == 1
    assert last_line(result.stderr) == f"error: refusing to start: {problem}"


def test_health_readiness_and_graceful_shutdown():
    port = free_port()
    process = subprocess.Popen([BIN, "serve"], env=serve_env(RAMPART_LISTEN=f"127.0.0.1:{port}"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/readyz"), "never became ready"
        assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read() + process.stderr.read()
    assert "x" * 32 not in output


def test_a_refusal_is_one_line_before_anything_listens():
    metrics = f"127.0.0.1:{free_port()}"
    result = serve_until_exit(serve_env(RAMPART_DATABASE_URL=os.environ["TEST_SUPERUSER_URL"],
                                        RAMPART_LISTEN=f"127.0.0.1:{free_port()}", RAMPART_METRICS_LISTEN=metrics))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [last_line(result.stderr)], result.stderr
    assert "listening" not in result.stderr.lower()


def test_secrets_from_files_and_a_warning_for_secret_flags(tmp_path):
    secret_file = tmp_path / "hs256"
    secret_file.write_text("f" * 40 + "\n")
    url_file = tmp_path / "db"
    url_file.write_text(os.environ["TEST_DATABASE_URL"])
    port = free_port()
    env = serve_env(RAMPART_LISTEN=f"127.0.0.1:{port}", RAMPART_JWT_HS256_SECRET_FILE=str(secret_file),
                    RAMPART_DATABASE_URL_FILE=str(url_file))
    del env["RAMPART_JWT_HS256_SECRET"], env["RAMPART_DATABASE_URL"]
    process = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/readyz"), "never became ready"
        import json

        import jwt

        from conftest import run
        tenant = f"f-{port}"
        assert run("admin", "tenant", "create", tenant).returncode == 0
        discover = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}}).encode()
        for key, status in (("f" * 40, 200), ("h" * 40, 401)):
            token = jwt.encode({"iss": "https://issuer.example", "aud": f"http://127.0.0.1:{port}/mcp", "sub": "a",
                                "tenant_id": tenant, "exp": int(time.time()) + 60}, key, algorithm="HS256")
            request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", method="POST", data=discover, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    got = response.status
            except urllib.error.HTTPError as error:
                got = error.code
            assert got == status, key[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
    both = serve_until_exit(serve_env(RAMPART_JWT_HS256_SECRET_FILE=str(secret_file)))
    assert both.returncode == 1 and "set RAMPART_JWT_HS256_SECRET or RAMPART_JWT_HS256_SECRET_FILE, not both" in \
        last_line(both.stderr)

    flagged = subprocess.Popen([BIN, "serve", "--jwt-hs256-secret", "g" * 40], env=serve_env(
        RAMPART_LISTEN=f"127.0.0.1:{free_port()}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    flagged.terminate()
    _, err = flagged.communicate(timeout=30)
    assert "a secret was given as a command-line flag" in err and "RAMPART_JWT_HS256_SECRET_FILE" in err
    assert "g" * 40 not in err


def test_metrics_can_require_a_token(tmp_path):
    port, metrics = free_port(), f"127.0.0.1:{free_port()}"
    process = subprocess.Popen([BIN, "serve"], env=serve_env(RAMPART_LISTEN=f"127.0.0.1:{port}",
                                                             RAMPART_METRICS_LISTEN=metrics,
                                                             RAMPART_METRICS_TOKEN="m" * 24),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/readyz")
        assert http_status(f"http://{metrics}/metrics") == 401
        request = urllib.request.Request(f"http://{metrics}/metrics", headers={"Authorization": "Bearer " + "m" * 24})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200 and b"rampart_" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=30)

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

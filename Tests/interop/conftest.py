"""Black-box tests: they drive the real `rampart` binary that ops/test built, against the
throwaway PostgreSQL cluster ops/test started (TEST_* variables)."""
import os
import socket
import subprocess
import uuid

import pytest

BIN = os.environ.get("RAMPART_BIN", os.path.join(os.path.dirname(__file__), "../../.build/debug/rampart"))


def env_without_rampart(**extra):
    """The environment minus any RAMPART_* the developer's shell may carry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPART_")}
    env.update(extra)
    return env


def run(*args, env=None, timeout=60, cwd=None):
    result = subprocess.run(
        [BIN, *args], capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else admin_env(), cwd=cwd,
    )
    return result


def admin_env(**extra):
    return env_without_rampart(RAMPART_ADMIN_DATABASE_URL=os.environ["TEST_ADMIN_DATABASE_URL"], **extra)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tenant():
    """A fresh tenant id per test (created by the test itself where it needs one)."""
    return f"t-{uuid.uuid4().hex[:10]}"


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]

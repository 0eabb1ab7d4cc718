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


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    from rampart_server import Keys
    return Keys(str(tmp_path_factory.mktemp("keys")))


@pytest.fixture(scope="session")
def server(keys):
    """One `rampart serve` shared by the protocol tests (each test makes its own tenants)."""
    from rampart_server import RampartServer
    process = RampartServer(keys)
    yield process
    process.stop()


@pytest.fixture
def tenants(server):
    """Two tenants with look-alike documents: `a` and `b`, each with sales q1/q2 and hr data."""
    from rampart_server import create_tenant
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    for tenant, word in ((a, "aardvark"), (b, "bumblebee")):
        create_tenant(tenant, documents=[
            (f"tenant://{tenant}/sales/q1", {"title": f"Q1 {word} review", "region": "emea", "amount": 100,
                                              "owner": "dana", "tags": ["renewal", word]}),
            (f"tenant://{tenant}/sales/q2", {"title": f"Q2 {word} plan", "region": "amer", "amount": 250,
                                              "owner": "lee", "tags": ["expansion"]}),
            (f"tenant://{tenant}/sales/q3", {"title": "Q3 deals", "region": "emea", "amount": 40,
                                              "owner": "dana", "contact": {"country": "de"}}),
            (f"tenant://{tenant}/hr/{word}", {"name": f"{word} person", "ssn": "123-45-6789"}),
        ])
    return a, b

"""`rampart serve --dev`: an embedded cluster, the demo tenant, a working token, /readyz 200."""
import os
import signal
import subprocess
import time

import jwt

from conftest import BIN, env_without_rampart, free_port
from test_serve import wait_for


def stop_cluster(root):
    data = os.path.join(os.path.realpath(os.path.join(root, ".rampart", "pg")), "data")
    if os.path.isdir(data):
        cmd = ["/usr/bin/env", "-C", "/"] + (["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else [])
        pg_ctl = sorted(p for p in os.listdir("/usr/lib/postgresql"))[-1]
        subprocess.run(cmd + [f"/usr/lib/postgresql/{pg_ctl}/bin/pg_ctl", "-D", data, "-m", "fast", "stop"],
                       capture_output=True)


def test_dev_mode_serves_the_demo_tenant(tmp_path):
    port = free_port()
    process = subprocess.Popen([BIN, "serve", "--dev", "--listen", f"127.0.0.1:{port}"], cwd=tmp_path,
                               env=env_without_rampart(RAMPART_METRICS_LISTEN=f"127.0.0.1:{free_port()}"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/readyz", seconds=120), "dev server never became ready"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        out = process.stdout.read()
        assert f"MCP URL:  http://127.0.0.1:{port}/mcp" in out
        token = next(line.split()[-1] for line in out.splitlines() if "Token:" in line)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["tenant_id"] == "demo" and claims["iss"] == "rampart-dev"
        assert claims["aud"] == f"http://127.0.0.1:{port}/mcp"

        # The CLI reaches the same cluster through .rampart/env.
        env_file = (tmp_path / ".rampart" / "env").read_text()
        admin_url = next(l.split("=", 1)[1].strip("'") for l in env_file.splitlines() if "ADMIN_DATABASE_URL" in l)
        listed = subprocess.run([BIN, "admin", "resource", "list", "demo"], capture_output=True, text=True,
                                env=env_without_rampart(RAMPART_ADMIN_DATABASE_URL=admin_url))
        assert listed.returncode == 0, listed.stderr
        assert "tenant://demo/sales/q1" in listed.stdout and "tenant://demo/hr/alice" in listed.stdout

        # Nobody but the cluster's user and root can reach it: no TCP listener, a private directory.
        assert os.stat(tmp_path / ".rampart").st_mode & 0o077 == 0
        assert "host=" in admin_url and "127.0.0.1" not in admin_url
        pg_port = int((tmp_path / ".rampart" / "pg.port").read_text())
        import socket
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", pg_port)) != 0

        # A second start reuses the cluster and the demo data.
        again = subprocess.Popen([BIN, "serve", "--dev", "--listen", f"127.0.0.1:{port}"], cwd=tmp_path,
                                 env=env_without_rampart(RAMPART_METRICS_LISTEN=f"127.0.0.1:{free_port()}"),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_for(f"http://127.0.0.1:{port}/readyz", seconds=60)
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 0
    finally:
        for p in [process] + ([again] if "again" in locals() else []):
            if p.poll() is None:
                p.kill()
        stop_cluster(tmp_path)


def test_dev_mode_refuses_a_public_address(tmp_path):
    result = subprocess.run([BIN, "serve", "--dev", "--listen", "0.0.0.0:8080"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30, env=env_without_rampart())
    assert result.returncode == 1
    assert "RAMPART_LISTEN" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / ".rampart").exists()

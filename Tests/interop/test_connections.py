"""Idle and slow clients never starve a legitimate one (issue 15): with 1,000 idle connections and
200 clients sending their headers a byte at a time, an authenticated call still succeeds within
2 s and the server's RSS stays under 300 MB."""
import resource
import socket
import threading
import time

import httpx

from rampart_server import RampartServer, tool_call

IDLE = 1000
SLOW = 200


def rss_mb(process):
    with open(f"/proc/{process.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def test_idle_and_slow_header_clients_do_not_starve_a_call(keys, tenants):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE + SLOW + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    own = RampartServer(keys)  # started after the limit is raised: it inherits it
    held = []
    stop = threading.Event()
    try:
        for _ in range(IDLE):
            held.append(socket.create_connection(("127.0.0.1", own.port), timeout=10))
        slow = [socket.create_connection(("127.0.0.1", own.port), timeout=10) for _ in range(SLOW)]
        held += slow

        def dribble():
            head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{own.port}\r\nX-Slow: ".encode() + b"a" * 10000
            for byte in range(len(head)):
                if stop.is_set():
                    return
                for connection in slow:
                    try:
                        connection.send(head[byte:byte + 1])
                    except OSError:
                        pass
                time.sleep(0.05)
        dribbler = threading.Thread(target=dribble, daemon=True)
        dribbler.start()
        time.sleep(1)

        token = own.token(tenants[0])
        for attempt in range(3):
            started = time.monotonic()
            response = own.post(tool_call("read_resource", {"uri": f"tenant://{tenants[0]}/sales/q1"}, id=attempt),
                                token=token)
            elapsed = time.monotonic() - started
            assert response.status_code == 200 and "Q1" in response.text, response.text[:200]
            assert elapsed < 2, elapsed
        assert rss_mb(own) < 300
    finally:
        stop.set()
        for connection in held:
            connection.close()
        own.stop()


def test_idle_and_half_sent_connections_are_closed_at_the_idle_timeout(keys):
    own = RampartServer(keys, extra_env={"RAMPART_HTTP_IDLE_TIMEOUT": "2"})
    try:
        idle = socket.create_connection(("127.0.0.1", own.port), timeout=10)
        half = socket.create_connection(("127.0.0.1", own.port), timeout=10)
        half.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{own.port}\r\nX-Slow: aaaa".encode())
        started = time.monotonic()
        for connection in (idle, half):
            assert connection.recv(4096) == b""  # closed by the server, nothing answered
        assert 1.5 < time.monotonic() - started < 6
    finally:
        own.stop()


def test_connections_over_the_cap_are_closed_on_accept_and_the_cap_frees_up(keys, tenants):
    own = RampartServer(keys, extra_env={"RAMPART_HTTP_MAX_CONNECTIONS": "40"})
    held = []
    try:
        # /readyz polling during start-up closed its connections: the cap starts empty.
        for _ in range(40):
            held.append(socket.create_connection(("127.0.0.1", own.port), timeout=10))
        time.sleep(0.5)
        refused = [socket.create_connection(("127.0.0.1", own.port), timeout=10) for _ in range(5)]
        for connection in refused:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try:
                assert connection.recv(4096) == b""  # closed, nothing read or answered
            except ConnectionResetError:
                pass
            connection.close()
        # The held ones are still served.
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert held[0].recv(4096).startswith(b"HTTP/1.1 200")
        metrics = httpx.get(f"http://{own.metrics_listen}/metrics").text
        assert "rampart_http_connections_refused_total 5" in metrics, metrics[-2000:]
        assert "rampart_http_connections_open 40" in metrics
        # Not audited (no request was read); logged once for the burst, with the count.
        with open(own.log.name) as log:
            warnings = [line for line in log if "connection cap reached" in line]
        assert len(warnings) == 1 and "connections_refused" in warnings[0], warnings
        for connection in held:
            connection.close()
        held = []
        time.sleep(0.5)
        response = own.post(tool_call("read_resource", {"uri": f"tenant://{tenants[0]}/sales/q1"}),
                            token=own.token(tenants[0]))
        assert response.status_code == 200 and "Q1" in response.text
    finally:
        for connection in held:
            connection.close()
        own.stop()

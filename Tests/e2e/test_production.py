"""Running wsgate in production: drain on SIGTERM, reload on SIGHUP, health, metrics, JSON logs, TLS."""
import asyncio
import json
import os
import signal
import ssl
import subprocess
import textwrap
import time
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import free_port, wsgate_binary


def run(coroutine, timeout=60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout))


def write_config(tmp_path, text, name="wsgate.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def http_get(url, context=None):
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def metric(text, name, **labels):
    """The value of one sample in Prometheus text format, or None."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return None


def wait_for(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def healthcheck(*args, env=None):
    return subprocess.run(
        [wsgate_binary(), "healthcheck", *args], capture_output=True, text=True, timeout=20,
        env={**os.environ, **(env or {})},
    )


def test_health_endpoint_and_healthcheck_command(gateway_factory, tmp_path):
    config = write_config(tmp_path, """\
        version: 1
        endpoints:
          - { path: /echo, type: echo }
        """)
    gateway = gateway_factory(config)
    status, body = http_get(gateway.http_url("/healthz"))
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "serving" and health["endpoints"] == 1 and health["sessions"] == 0
    ok = healthcheck(gateway.http_url("/healthz"))
    assert ok.returncode == 0 and "healthy: HTTP 200" in ok.stdout
    # Without a URL: port, path and scheme from the config, the port overridden like `serve` does.
    from_config = healthcheck("--config", config, env={"WSGATE_LISTEN": f"127.0.0.1:{gateway.port}"})
    assert from_config.returncode == 0, from_config.stdout
    assert healthcheck(gateway.http_url("/nowhere")).returncode == 1
    gateway.stop()
    down = healthcheck(gateway.http_url("/healthz"), "--timeout", "2")
    assert down.returncode == 1 and "unhealthy" in down.stdout


def test_sigterm_drains_spread_out_with_health_503_and_exits_0(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        server: { shutdown_grace: 8s, shutdown_spread: 1500ms }
        endpoints:
          - { path: /echo, type: echo }
        """))

    async def scenario():
        clients = [await connect(gateway.url("/echo")) for _ in range(4)]
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)

        async def closed_at(ws):
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return closed.value.rcvd.code, time.monotonic() - started

        waits = asyncio.gather(*(closed_at(ws) for ws in clients))
        await asyncio.sleep(0.3)
        # While draining: health says 503 and new sessions are refused with 503.
        status, body = await asyncio.to_thread(http_get, gateway.http_url("/healthz"))
        assert status == 503 and json.loads(body)["status"] == "draining"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(gateway.url("/echo")):
                pass
        assert refused.value.response.status_code == 503
        return await waits

    results = run(scenario())
    assert [code for code, _ in results] == [1001] * 4
    times = sorted(at for _, at in results)
    # Spread over 1.5 s in 4 steps (0, 0.375, 0.75, 1.125 s): not all in the same instant.
    assert times[-1] - times[0] >= 0.7, times
    assert gateway.process.wait(timeout=15) == 0
    log = gateway.log()
    assert "draining" in log and "wsgate stopped" in log


def test_drain_gives_processes_their_close_grace_and_kills_stubborn_ones(gateway_factory, tmp_path):
    polite = tmp_path / "polite.sh"
    polite.write_text(f"#!/bin/sh\ncat >/dev/null\nsleep 0.3\necho done > {tmp_path}/polite.done\n")
    stubborn = tmp_path / "stubborn.sh"
    stubborn.write_text(f"#!/bin/sh\ntrap '' TERM\necho $$ > {tmp_path}/stubborn.pid\nwhile true; do sleep 0.1; done\n")
    for script in (polite, stubborn):
        script.chmod(0o755)
    gateway = gateway_factory(write_config(tmp_path, f"""\
        version: 1
        server: {{ shutdown_grace: 3s }}
        endpoints:
          - {{ path: /polite, type: process, command: ["{polite}"], close_grace: 2s }}
          - {{ path: /stubborn, type: process, command: ["{stubborn}"], close_grace: 1s }}
        """))

    async def scenario():
        a = await connect(gateway.url("/polite"))
        b = await connect(gateway.url("/stubborn"))
        assert await asyncio.to_thread(wait_for, lambda: (tmp_path / "stubborn.pid").exists())
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        for ws in (a, b):
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1001
        return started

    started = run(scenario())
    assert gateway.process.wait(timeout=15) == 0
    elapsed = time.monotonic() - started
    assert elapsed < 3 + 2, elapsed  # within shutdown_grace, plus margin for a loaded machine
    # The polite process saw EOF and finished its work within its close_grace.
    assert (tmp_path / "polite.done").read_text() == "done\n"
    # The stubborn one ignored EOF and SIGTERM; it was killed at the end of the grace.
    pid = int((tmp_path / "stubborn.pid").read_text())
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
                    open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", 5)


def test_sighup_reloads_and_refuses_an_invalid_file(gateway_factory, tmp_path):
    config = write_config(tmp_path, """\
        version: 1
        endpoints:
          - { path: /echo, type: echo }
          - { path: /gone, type: echo }
        """)
    gateway = gateway_factory(config)

    async def scenario():
        gone = await connect(gateway.url("/gone"))
        write_config(tmp_path, """\
            version: 1
            endpoints:
              - { path: /echo, type: echo, reply: "v2 {message}" }
              - { path: /new, type: echo }
            """)
        gateway.process.send_signal(signal.SIGHUP)
        with pytest.raises(ConnectionClosed) as closed:
            await gone.recv()
        assert closed.value.rcvd.code == 1001 and closed.value.rcvd.reason == "endpoint removed"
        async with connect(gateway.url("/echo")) as ws:
            await ws.send("hi")
            assert await ws.recv() == "v2 hi"
        async with connect(gateway.url("/new")) as ws:
            await ws.send("new")
            assert await ws.recv() == "new"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(gateway.url("/gone")):
                pass
        assert refused.value.response.status_code == 404

        # An invalid file: refused with its messages; the previous configuration keeps serving.
        write_config(tmp_path, "version: 1\nendpoints:\n  - { path: /echo, type: echoo }\n")
        gateway.process.send_signal(signal.SIGHUP)
        assert await asyncio.to_thread(wait_for, lambda: "is invalid; still serving" in gateway.log())
        async with connect(gateway.url("/echo")) as ws:
            await ws.send("still")
            assert await ws.recv() == "v2 still"

    run(scenario())
    log = gateway.log()
    assert "reloaded" in log and "added /new" in log and "removed /gone" in log
    assert f"{config}:3:26: error: endpoints[0].type 'echoo' is not an endpoint type; did you mean 'echo'?" in log, log
    _, text = http_get(gateway.http_url("/metrics"))
    assert metric(text, "wsgate_config_reloads_total", result="applied") == 1
    assert metric(text, "wsgate_config_reloads_total", result="refused") == 1


def test_metrics_after_traffic(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        server: { max_connections: 100 }
        endpoints:
          - { path: /echo, type: echo, ping_period: 200ms }
          - { path: /chat, type: broadcast }
          - { path: /cat, type: process, command: [cat] }
          - { path: /fail, type: process, command: [sh, -c, "exit 3"] }
        """))

    async def scenario():
        async with connect(gateway.url("/echo"), compression="deflate") as ws:
            for _ in range(5):
                await ws.send("x" * 4000)
                assert await ws.recv() == "x" * 4000
            await asyncio.sleep(0.5)  # a ping or two
        async with connect(gateway.url("/chat")) as a, connect(gateway.url("/chat")) as b:
            await a.recv()
            await b.recv()
            await a.send("hello")
            assert await a.recv() == "[user0]: hello"
            assert await b.recv() == "[user0]: hello"
            _, text = await asyncio.to_thread(http_get, gateway.http_url("/metrics"))
            assert metric(text, "wsgate_room_members", endpoint="/chat") == 2
            assert metric(text, "wsgate_connections_open", endpoint="/chat") == 2
        async with connect(gateway.url("/cat")) as ws:
            await ws.send("line")
            assert await ws.recv() == "line"
            _, text = await asyncio.to_thread(http_get, gateway.http_url("/metrics"))
            assert metric(text, "wsgate_processes_running", endpoint="/cat") == 1
        async with connect(gateway.url("/fail")) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        with pytest.raises(InvalidStatus):
            async with connect(gateway.url("/missing")):
                pass

    run(scenario())
    assert wait_for(lambda: metric(http_get(gateway.http_url("/metrics"))[1],
                                   "wsgate_processes_running", endpoint="/cat") == 0)
    status, text = http_get(gateway.http_url("/metrics"))
    assert status == 200
    assert metric(text, "wsgate_connections_total", endpoint="/echo") == 1
    assert metric(text, "wsgate_messages_received_total", endpoint="/echo") == 5
    assert metric(text, "wsgate_messages_sent_total", endpoint="/echo") == 5
    assert metric(text, "wsgate_bytes_received_total", endpoint="/echo") > 0
    assert metric(text, "wsgate_bytes_sent_total", endpoint="/echo") > 0
    assert metric(text, "wsgate_pings_sent_total", endpoint="/echo") >= 1
    assert metric(text, "wsgate_keepalive_timeouts_total", endpoint="/echo") == 0
    assert metric(text, "wsgate_closes_total", endpoint="/echo", code="1000") == 1
    before = metric(text, "wsgate_compression_bytes_total", endpoint="/echo", direction="sent", form="uncompressed")
    after = metric(text, "wsgate_compression_bytes_total", endpoint="/echo", direction="sent", form="compressed")
    assert before == 20000 and 0 < after < before / 10
    assert metric(text, "wsgate_compression_bytes_total", endpoint="/echo", direction="received",
                  form="uncompressed") == 20000
    assert metric(text, "wsgate_room_deliveries_total", endpoint="/chat") >= 4
    assert metric(text, "wsgate_room_drops_total", endpoint="/chat") == 0
    assert metric(text, "wsgate_room_members", endpoint="/chat") == 0
    assert metric(text, "wsgate_processes_spawned_total", endpoint="/cat") == 1
    assert metric(text, "wsgate_processes_failed_total", endpoint="/cat") == 0
    assert metric(text, "wsgate_processes_failed_total", endpoint="/fail") == 1
    assert metric(text, "wsgate_handshakes_refused_total", reason="not_found") == 1
    assert metric(text, "wsgate_closes_total", endpoint="/fail", code="1011") == 1


def test_json_logs_one_object_per_line_with_connection_fields(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        server: { log: { format: json } }
        endpoints:
          - { path: /echo, type: echo }
        """))

    async def scenario():
        async with connect(gateway.url("/echo")) as ws:
            await ws.send("hi")
            await ws.recv()

    run(scenario())
    assert wait_for(lambda: "connection closed" in gateway.log())
    entries = [json.loads(line) for line in gateway.log().splitlines() if line.strip()]
    assert all({"time", "level", "message"} <= entry.keys() for entry in entries)
    opened = next(entry for entry in entries if entry["message"] == "connection opened")
    closed = next(entry for entry in entries if entry["message"] == "connection closed")
    assert opened["endpoint"] == "/echo" and opened["peer"].startswith("127.0.0.1:")
    assert closed["endpoint"] == "/echo" and closed["code"] == "1000" and int(closed["duration_ms"]) >= 0
    assert closed["peer"] == opened["peer"]


def test_wss_round_trip_with_a_throwaway_certificate(gateway_factory, tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(tmp_path / "tls.key"), "-out", str(tmp_path / "tls.crt")],
        check=True, capture_output=True,
    )
    config = write_config(tmp_path, """\
        version: 1
        server:
          tls: { certificate: tls.crt, private_key: tls.key }
        endpoints:
          - { path: /echo, type: echo, reply: "Hi, {message}!" }
        """)
    gateway = gateway_factory(config)
    context = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))

    async def scenario():
        async with connect(f"wss://127.0.0.1:{gateway.port}/echo", ssl=context) as ws:
            await ws.send("TLS")
            assert await ws.recv() == "Hi, TLS!"
        # Plain ws:// to a TLS port does not get a session.
        with pytest.raises(Exception):
            async with connect(gateway.url("/echo"), open_timeout=3):
                pass

    run(scenario())
    status, body = http_get(f"https://127.0.0.1:{gateway.port}/healthz", context=context)
    assert status == 200 and json.loads(body)["status"] == "serving"
    check = healthcheck("--config", config, env={"WSGATE_LISTEN": f"127.0.0.1:{gateway.port}"})
    assert check.returncode == 0 and "healthy" in check.stdout, check.stdout


def test_missing_tls_files_are_refused_before_listening(tmp_path):
    config = write_config(tmp_path, """\
        version: 1
        server:
          tls: { certificate: nope.crt, private_key: nope.key }
        endpoints:
          - { path: /echo, type: echo }
        """)
    refused = subprocess.run([wsgate_binary(), "serve", config], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 1
    assert f"{config}:3:23: error: server.tls.certificate: cannot read" in refused.stderr
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    config = write_config(tmp_path, f"""\
        version: 1
        server:
          listen: 127.0.0.1:0
          tls: {{ certificate: {garbage}, private_key: {garbage} }}
        endpoints:
          - {{ path: /echo, type: echo }}
        """)
    refused = subprocess.run([wsgate_binary(), "serve", config], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 1
    assert "server.tls.certificate: cannot read a PEM certificate" in refused.stdout + refused.stderr


def test_production_example_serves_wss_health_and_metrics(gateway_factory, tmp_path):
    subprocess.run(["examples/make-dev-cert", str(tmp_path)], check=True, capture_output=True)
    gateway = gateway_factory("examples/production.yaml", env={
        "WSGATE_TLS_CERTIFICATE": str(tmp_path / "tls.crt"), "WSGATE_TLS_PRIVATE_KEY": str(tmp_path / "tls.key")})
    context = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
    base = f"wss://127.0.0.1:{gateway.port}"

    async def scenario():
        async with connect(f"{base}/echo", ssl=context) as ws:
            await ws.send("probe")
            assert await ws.recv() == "probe"
        async with connect(f"{base}/rooms/ops?nick=ann", ssl=context, origin="https://app.example.com") as ws:
            assert await ws.recv() == "Welcome to ops, ann"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{base}/rooms/ops?nick=eve", ssl=context, origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403

    run(scenario())
    status, body = http_get(f"https://127.0.0.1:{gateway.port}/healthz", context=context)
    assert status == 200 and json.loads(body)["endpoints"] == 3
    _, text = http_get(f"https://127.0.0.1:{gateway.port}/metrics", context=context)
    assert metric(text, "wsgate_connections_total", endpoint="/rooms/{room}") == 1
    assert metric(text, "wsgate_handshakes_refused_total", reason="origin_not_allowed") == 1
    assert all(json.loads(line)["level"] for line in gateway.log().splitlines() if line.strip())


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the gateway as another user, which needs root")
def test_serves_as_an_unprivileged_user(tmp_path):
    """The container runs wsgate as uid 10001: nothing on the accept path may need privileges."""
    port = free_port()
    process = subprocess.Popen(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
         wsgate_binary(), "serve", "examples/echo.yaml", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: healthcheck(f"http://127.0.0.1:{port}/healthz").returncode == 0, 20)

        async def scenario():
            async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
                assert await ws.recv() == "Please enter your name"
                await ws.send("nobody")
                assert await ws.recv() == "Hi, nobody!"

        run(scenario())
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0

"""Rate limits at the door and per connection: 429/503 with Retry-After, 1008 on a message flood, drops
counted. Rates are slow (per minute) against small bursts, so refill during a test never matters."""
import asyncio
import signal

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rawws import RawClient, frame
from test_production import http_get, metric, run, wait_for, write_config


async def refused(url, **options):
    """The HTTP response of a handshake that must be refused."""
    with pytest.raises(InvalidStatus) as error:
        async with connect(url, **options):
            pass
    return error.value.response


def retry_after(response) -> int:
    value = int(response.headers["Retry-After"])
    assert value >= 1
    return value


def metrics(gateway) -> str:
    return http_get(gateway.http_url("/metrics"))[1]


def test_connections_per_ip_get_429_with_retry_after_and_health_is_not_counted(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        server: { max_connections_per_ip: 2 }
        endpoints:
          - { path: /echo, type: echo }
        """))

    async def scenario():
        first = await connect(gateway.url("/echo"))
        second = await connect(gateway.url("/echo"))
        response = await refused(gateway.url("/echo"))
        assert response.status_code == 429 and retry_after(response) == 1
        # Another client address is not affected; health and metrics are never counted.
        async with connect(gateway.url("/echo"), local_addr=("127.0.0.2", 0)) as other:
            await other.send("other")
            assert await other.recv() == "other"
        for _ in range(5):
            assert (await asyncio.to_thread(http_get, gateway.http_url("/healthz")))[0] == 200
        # A session that ends frees its place.
        await first.close()
        assert await asyncio.to_thread(wait_for, lambda: '{"status":"serving","sessions":1' in
                                       http_get(gateway.http_url("/healthz"))[1])
        async with connect(gateway.url("/echo")) as again:
            await again.send("again")
            assert await again.recv() == "again"
        await second.close()

    run(scenario())
    assert metric(metrics(gateway), "wsgate_handshakes_refused_total", reason="ip_limit") == 1


def test_an_endpoints_own_connections_per_ip_get_429(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        defaults: { max_connections_per_ip: 1 }
        endpoints:
          - { path: /one, type: echo }
          - { path: /two, type: echo, max_connections_per_ip: 2 }
        """))

    async def scenario():
        async with connect(gateway.url("/one")), connect(gateway.url("/two")), connect(gateway.url("/two")):
            for path in ("/one", "/two"):
                response = await refused(gateway.url(path))
                assert response.status_code == 429 and retry_after(response) == 1
            async with connect(gateway.url("/one"), local_addr=("127.0.0.2", 0)) as other:
                await other.send("other")
                assert await other.recv() == "other"
        # Closed sessions free their places.
        assert await asyncio.to_thread(wait_for, lambda: '"sessions":0' in http_get(gateway.http_url("/healthz"))[1])
        async with connect(gateway.url("/one")) as again:
            await again.send("again")
            assert await again.recv() == "again"

    run(scenario())
    assert metric(metrics(gateway), "wsgate_handshakes_refused_total", reason="endpoint_ip_limit") == 2


def test_new_connections_per_ip_get_429_with_retry_after(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        server:
          new_connections_per_ip: { rate: 1/m, burst: 3 }
        endpoints:
          - { path: /echo, type: echo }
        """))

    async def scenario():
        for _ in range(3):
            async with connect(gateway.url("/echo")) as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
        for _ in range(2):
            response = await refused(gateway.url("/echo"))
            assert response.status_code == 429 and 1 <= retry_after(response) <= 60
        raw = await RawClient.open(gateway.port)
        assert raw.status == 429 and "retry-after" in raw.headers
        assert (await asyncio.to_thread(http_get, gateway.http_url("/healthz")))[0] == 200
        async with connect(gateway.url("/echo"), local_addr=("127.0.0.2", 0)) as other:
            await other.send("other")
            assert await other.recv() == "other"

    run(scenario())
    assert metric(metrics(gateway), "wsgate_handshakes_refused_total", reason="ip_rate_limited") == 3


def test_new_connections_server_wide_get_503_with_retry_after(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, """\
        version: 1
        server:
          new_connections: { rate: 1/m, burst: 3 }
        endpoints:
          - { path: /echo, type: echo }
        """))

    async def scenario():
        for index in range(3):
            address = f"127.0.0.{index + 1}"
            async with connect(gateway.url("/echo"), local_addr=(address, 0)) as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
        # The whole server is at its rate, whatever the address.
        for address in ("127.0.0.1", "127.0.0.5"):
            response = await refused(gateway.url("/echo"), local_addr=(address, 0))
            assert response.status_code == 503 and 1 <= retry_after(response) <= 60
        assert (await asyncio.to_thread(http_get, gateway.http_url("/healthz")))[0] == 200

    run(scenario())
    assert metric(metrics(gateway), "wsgate_handshakes_refused_total", reason="rate_limited") == 2


FLOOD = """\
    version: 1
    defaults:
      ping_period: 0
    endpoints:
      - { path: /close, type: echo, rate: { messages: 1/m, burst: 5, action: close } }
      - { path: /drop, type: echo, rate: { messages: 1/m, burst: 5, action: drop } }
      - { path: /bytes, type: echo, rate: { bytes: 1KiB/m, bytes_burst: 1KiB, action: close } }
      - { path: /free, type: echo }
    """


def test_a_message_flood_with_action_close_gets_1008(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, FLOOD))

    async def scenario():
        raw = await RawClient.open(gateway.port, "/close")
        assert raw.status == 101
        raw.writer.write(b"".join(frame(0x1, f"m{i}".encode()) for i in range(50)))
        await raw.writer.drain()
        echoes = 0
        while True:
            opcode, payload = await raw.read_frame()
            if opcode == 0x8:
                code, reason = int.from_bytes(payload[:2], "big"), payload[2:].decode()
                break
            assert opcode == 0x1 and payload == f"m{echoes}".encode()
            echoes += 1
        assert (code, reason) == (1008, "message rate limit exceeded")
        assert echoes <= 5
        # An endpoint without a rate takes the same flood.
        async with connect(gateway.url("/free")) as ws:
            for i in range(50):
                await ws.send(f"m{i}")
            assert [await ws.recv() for _ in range(50)] == [f"m{i}" for i in range(50)]

    run(scenario())
    text = metrics(gateway)
    assert metric(text, "wsgate_rate_limited_total", endpoint="/close", action="close") == 1
    assert metric(text, "wsgate_closes_total", endpoint="/close", code="1008") == 1


def test_a_message_flood_with_action_drop_keeps_the_connection_and_counts_every_drop(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, FLOOD))
    sent = 50

    async def scenario():
        async with connect(gateway.url("/drop")) as ws:
            for i in range(sent):
                await ws.send(f"m{i}")
            received, drops = [], 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while loop.time() < deadline:
                try:
                    received.append(await asyncio.wait_for(ws.recv(), timeout=0.2))
                except TimeoutError:
                    pass
                text = await asyncio.to_thread(metrics, gateway)
                drops = int(metric(text, "wsgate_rate_limited_total", endpoint="/drop", action="drop") or 0)
                if drops + len(received) == sent:
                    break
            assert drops == sent - len(received)
            assert 1 <= len(received) <= 6 and drops >= 44
            assert received == [f"m{i}" for i in range(len(received))]
            # Still open: pings are not messages, and a pong comes back.
            await asyncio.wait_for(await ws.ping(), timeout=5)
            return drops

    drops = run(scenario())
    text = metrics(gateway)
    assert metric(text, "wsgate_rate_limited_total", endpoint="/drop", action="drop") == drops
    assert metric(text, "wsgate_closes_total", endpoint="/drop", code="1008") is None


def test_a_bytes_per_second_limit_closes_with_1008(gateway_factory, tmp_path):
    gateway = gateway_factory(write_config(tmp_path, FLOOD))

    async def scenario():
        async with connect(gateway.url("/bytes")) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                for i in range(10):
                    await ws.send("x" * 300)  # the fourth goes over 1 KiB
                for i in range(10):
                    assert await ws.recv() == "x" * 300
            assert closed.value.rcvd.code == 1008
            assert closed.value.rcvd.reason == "message rate limit exceeded"

    run(scenario())
    assert metric(metrics(gateway), "wsgate_rate_limited_total", endpoint="/bytes", action="close") == 1


def test_reload_applies_new_limits_to_new_connections(gateway_factory, tmp_path):
    limited = """\
        version: 1
        server:
          new_connections_per_ip: { rate: 1/m, burst: 1 }
        endpoints:
          - { path: /echo, type: echo }
        """
    config = write_config(tmp_path, limited)
    gateway = gateway_factory(config)

    async def scenario():
        async with connect(gateway.url("/echo")):
            pass
        assert (await refused(gateway.url("/echo"))).status_code == 429
        write_config(tmp_path, "version: 1\nendpoints:\n  - { path: /echo, type: echo }\n")
        gateway.process.send_signal(signal.SIGHUP)
        assert await asyncio.to_thread(wait_for, lambda: "reloaded" in gateway.log())
        for _ in range(5):
            async with connect(gateway.url("/echo")) as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
        write_config(tmp_path, limited.replace("burst: 1", "burst: 2"))
        gateway.process.send_signal(signal.SIGHUP)
        assert await asyncio.to_thread(wait_for, lambda: gateway.log().count("reloaded") >= 2)
        for _ in range(2):
            async with connect(gateway.url("/echo")):
                pass
        assert (await refused(gateway.url("/echo"))).status_code == 429

    run(scenario())

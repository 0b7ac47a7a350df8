"""`type: proxy` in front of a Python `websockets` upstream, through a real `wsgate serve` process."""
import asyncio
import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import time

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import Gateway, free_port
from rawws import RawClient

FLOOD_MESSAGE = 64 * 1024
FLOOD_LIMIT = 512 << 20  # the upstream stops here if nothing pushes back
FLOOD_SECONDS = 6


def run(coroutine, timeout=60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout))


class Upstream:
    """A websockets server: /inspect reports the request then echoes; /close4002 closes with 4002;
    /flood sends until pushed back; anything else echoes. Each session's close code is recorded."""

    def __init__(self):
        self.closes = asyncio.Queue()
        self.flood_sent = 0
        self.flood_stalled = asyncio.Event()

    async def handler(self, ws):
        path = ws.request.path
        try:
            if path.startswith("/inspect"):
                headers = ws.request.headers
                await ws.send(json.dumps({
                    "path": path,
                    "for": headers.get("X-Forwarded-For"), "proto": headers.get("X-Forwarded-Proto"),
                    "host": headers.get("X-Forwarded-Host"), "token": headers.get("X-Token"),
                    "cookie": headers.get("Cookie"), "subprotocol": ws.subprotocol,
                    "user": headers.get_all("X-User-Id"), "role": headers.get("X-Role"),
                    "authorization": headers.get("Authorization"),
                }))
            if path.startswith("/close4002"):
                await ws.send("closing")
                await ws.close(4002, "upstream bye")
            elif path.startswith("/flood"):
                deadline = time.monotonic() + FLOOD_SECONDS
                payload = b"f" * FLOOD_MESSAGE
                while self.flood_sent < FLOOD_LIMIT and time.monotonic() < deadline:
                    try:
                        await asyncio.wait_for(ws.send(payload), timeout=1)
                    except asyncio.TimeoutError:
                        self.flood_stalled.set()
                        continue
                    self.flood_sent += FLOOD_MESSAGE
                await ws.wait_closed()
            else:
                async for message in ws:
                    await ws.send(message)
        finally:
            await ws.wait_closed()
            await self.closes.put((ws.close_code, ws.close_reason))

    async def start(self, ssl_context=None):
        self.server = await serve(
            self.handler, "127.0.0.1", 0, max_size=None, compression=None, ssl=ssl_context,
            select_subprotocol=lambda _, offered: "chat" if "chat" in offered else None)
        self.port = self.server.sockets[0].getsockname()[1]
        self.scheme = "wss" if ssl_context else "ws"
        return self

    def url(self, path="/"):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


def proxy_config(tmp_path, upstream: str, extra: str = "") -> str:
    config = tmp_path / "proxy.yaml"
    config.write_text(f"""version: 1
server:
  shutdown_grace: 5s
defaults:
  ping_period: 0
  max_frame_size: 2MiB
  max_message_size: 2MiB
endpoints:
  - path: /live
    type: proxy
    upstream: {upstream}
    connect_timeout: 1s
    pass_headers: [X-Token]
{extra}""")
    return str(config)


def test_messages_text_binary_and_one_mebibyte_pass_both_ways(tmp_path):
    async def scenario():
        upstream = await Upstream().start()
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/echo")))
        try:
            async with connect(gateway.url("/live"), max_size=None) as ws:
                await ws.send("hello upstream")
                assert await ws.recv() == "hello upstream"
                await ws.send(b"\x00\x01\xfe\xff")
                assert await ws.recv() == b"\x00\x01\xfe\xff"
                big = bytes(range(256)) * 4096
                await ws.send(big)
                assert await ws.recv() == big
                text = "é" * (512 * 1024)
                await ws.send(text)
                assert await ws.recv() == text
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())


def test_close_codes_pass_both_ways(tmp_path):
    async def scenario():
        upstream = await Upstream().start()
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/"), extra="""  - path: /closing
    type: proxy
    upstream: """ + upstream.url("/close4002") + "\n"))
        try:
            # The client closes: the upstream hears the client's code and reason.
            async with connect(gateway.url("/live")) as ws:
                await ws.send("x")
                assert await ws.recv() == "x"
                await ws.close(4001, "client bye")
            assert await asyncio.wait_for(upstream.closes.get(), 5) == (4001, "client bye")
            # The upstream closes: the client hears its code and reason, after its last message.
            async with connect(gateway.url("/closing")) as ws:
                assert await ws.recv() == "closing"
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "upstream bye")
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())


def test_query_forwarded_headers_chosen_headers_and_subprotocol_reach_the_upstream(tmp_path):
    async def scenario():
        upstream = await Upstream().start()
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/inspect?v=2")))
        try:
            async with connect(
                gateway.url("/live?room=a%20b&x=1"), subprotocols=["other", "chat"],
                additional_headers={"X-Token": "t-123", "Cookie": "secret=1", "X-Forwarded-For": "10.1.2.3"},
            ) as ws:
                assert ws.subprotocol == "chat"
                seen = json.loads(await ws.recv())
                assert seen["path"] == "/inspect?v=2&room=a%20b&x=1"
                assert seen["for"] == "10.1.2.3, 127.0.0.1"
                assert seen["proto"] == "http"
                assert seen["host"] == f"127.0.0.1:{gateway.port}"
                assert seen["token"] == "t-123"
                assert seen["cookie"] is None, "only pass_headers go upstream"
                assert seen["subprotocol"] == "chat"
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())


def test_auth_on_a_proxy_checks_the_token_first_and_sends_its_claims_upstream_as_headers(tmp_path):
    import jwt as pyjwt

    secret = "proxy-e2e-secret-0123456789abcdef0123"
    good = pyjwt.encode({"sub": "alice", "role": "ops\r\nX-Evil: 1", "exp": int(time.time()) + 300}, secret,
                        algorithm="HS256")

    async def scenario():
        upstream = await Upstream().start()
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/inspect"), extra=f"""  - path: /door
    type: proxy
    upstream: {upstream.url("/inspect")}
    pass_headers: [X-User-Id, Authorization]
    headers: {{ X-User-Id: "{{claims.sub}}", X-Role: "{{claims.role}}" }}
    auth: {{ jwt: {{ secret: "{secret}", token_from: [query:token, header:Authorization, subprotocol] }} }}
"""))
        try:
            # No token: refused before the upstream is asked.
            with pytest.raises(InvalidStatus) as refused:
                async with connect(gateway.url("/door")):
                    pass
            assert refused.value.response.status_code == 401
            # A token in the query: the claims travel as headers, the token stays at the gateway, and a
            # client's own X-User-Id is not passed even though pass_headers names it.
            async with connect(gateway.url(f"/door?token={good}&room=r1"),
                               additional_headers={"X-User-Id": "mallory"}) as ws:
                seen = json.loads(await ws.recv())
                assert seen["path"] == "/inspect?room=r1"
                assert seen["user"] == ["alice"]
                assert seen["role"] == "opsX-Evil: 1", "no line break reaches the upstream request"
            # The bearer subprotocol carries the token but is not offered upstream; Authorization passes
            # only because pass_headers names it.
            carried = base64.urlsafe_b64encode(good.encode()).decode().rstrip("=")
            async with connect(gateway.url("/door"), subprotocols=["chat", f"base64url.bearer.{carried}"]) as ws:
                seen = json.loads(await ws.recv())
                assert seen["subprotocol"] == "chat" and seen["user"] == ["alice"]
                assert seen["authorization"] is None
            # A token's exp closes the client with 1008, and the upstream with the same.
            for _ in range(2):  # the two sessions above
                assert await asyncio.wait_for(upstream.closes.get(), 5) == (1000, "")
            short = pyjwt.encode({"sub": "bob", "exp": int(time.time()) + 2}, secret, algorithm="HS256")
            async with connect(gateway.url(f"/door?token={short}")) as ws:
                await ws.recv()
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "token expired")
            assert await asyncio.wait_for(upstream.closes.get(), 5) == (1008, "token expired")
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())


def test_a_wss_upstream_signed_by_a_private_ca_is_trusted_through_ca_file_only(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=upstream",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "up.key"), "-out",
         str(tmp_path / "up.crt")],
        check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "up.crt", tmp_path / "up.key")

    async def scenario():
        upstream = await Upstream().start(ssl_context=context)
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/echo"), extra=f"""    ca_file: up.crt
  - path: /system-roots
    type: proxy
    upstream: {upstream.url("/echo")}
"""))
        try:
            async with connect(gateway.url("/live")) as ws:
                await ws.send("through TLS")
                assert await ws.recv() == "through TLS"
            # The system's roots do not know this CA: 502 before the upgrade.
            with pytest.raises(InvalidStatus) as refused:
                async with connect(gateway.url("/system-roots")):
                    pass
            assert refused.value.response.status_code == 502
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())


def test_unreachable_upstream_is_502_and_a_silent_one_is_504_before_the_upgrade(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    async def scenario():
        # Accepts TCP, never answers the upgrade.
        silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        silent_port = silent.sockets[0].getsockname()[1]
        gateway = Gateway(proxy_config(tmp_path, f"ws://127.0.0.1:{closed_port}/x", extra=f"""  - path: /silent
    type: proxy
    upstream: ws://127.0.0.1:{silent_port}/x
    connect_timeout: 500ms
"""))
        try:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(gateway.url("/live")):
                    pass
            assert refused.value.response.status_code == 502
            started = time.monotonic()
            with pytest.raises(InvalidStatus) as timed_out:
                async with connect(gateway.url("/silent")):
                    pass
            assert timed_out.value.response.status_code == 504
            assert time.monotonic() - started < 5
            assert "upstream" in gateway.log()
        finally:
            gateway.stop()
            silent.close()

    run(scenario())


def test_a_client_that_never_reads_does_not_grow_the_gateway_while_the_upstream_floods(tmp_path):
    async def scenario():
        upstream = await Upstream().start()
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/flood")))
        try:
            before = gateway.resident_mib()
            client = await RawClient.open(gateway.port, path="/live")
            # The upstream sends until a send waits a second (pushed back through the gateway) or its limit.
            await asyncio.wait_for(upstream.flood_stalled.wait(), FLOOD_SECONDS + 5)
            grown = gateway.resident_mib() - before
            assert upstream.flood_sent < FLOOD_LIMIT
            assert grown < 64, f"the gateway grew {grown:.0f} MiB while {upstream.flood_sent >> 20} MiB were sent"
            client.close()
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())


def test_drain_closes_both_sides_with_1001(tmp_path):
    async def scenario():
        upstream = await Upstream().start()
        gateway = Gateway(proxy_config(tmp_path, upstream.url("/echo")))
        try:
            async with connect(gateway.url("/live")) as ws:
                await ws.send("before drain")
                assert await ws.recv() == "before drain"
                gateway.process.send_signal(signal.SIGTERM)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd.code == 1001
            code, _ = await asyncio.wait_for(upstream.closes.get(), 5)
            assert code == 1001
            assert await asyncio.to_thread(gateway.process.wait, 10) == 0
        finally:
            gateway.stop()
            upstream.server.close()

    run(scenario())

"""A real client (Python `websockets`) against a real `wsgate serve` process."""
import asyncio
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=30))


def test_seed_echo_conversation(gateway_factory):
    gateway = gateway_factory("examples/echo.yaml")

    async def conversation():
        async with connect(gateway.url("/echo")) as ws:
            assert await ws.recv() == "Please enter your name"
            await ws.send("JetBrains")
            assert await ws.recv() == "Hi, JetBrains!"
            await ws.send("bye")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1000
            assert closed.value.rcvd.reason == "Client said BYE"

    run(conversation())


def test_bad_input_ends_only_that_connection_and_leaks_no_descriptor(gateway_factory):
    gateway = gateway_factory("scripts/autobahn.yaml")

    async def scenario():
        async with connect(gateway.url("/"), max_size=None) as bystander:
            await bystander.send("warm-up")
            assert await bystander.recv() == "warm-up"
            baseline = gateway.open_descriptors()
            for round_ in range(30):
                # A raw socket sending an unmasked frame: the server answers 1002 and closes.
                reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
                writer.write(
                    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                )
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 101")
                writer.write(b"\x81\x02hi")
                header = await reader.readexactly(2)
                assert header[0] == 0x88  # a close frame, unmasked
                payload = await reader.readexactly(header[1] & 0x7F)
                assert int.from_bytes(payload[:2], "big") == 1002
                assert payload[2:] == b"client frame is not masked"
                assert await reader.read() == b""  # the server closed its side
                writer.close()
                # A client that goes away without a close frame.
                async with connect(gateway.url("/")) as ws:
                    await ws.send(f"round {round_}")
                    assert await ws.recv() == f"round {round_}"
                    ws.transport.abort()
            await bystander.send("still served")
            assert await bystander.recv() == "still served"
            deadline = time.monotonic() + 5
            while gateway.open_descriptors() > baseline and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert gateway.open_descriptors() == baseline

    run(scenario())


def test_refused_handshakes_get_http_errors(gateway_factory):
    gateway = gateway_factory("examples/echo.yaml")

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(gateway.url("/nowhere")):
                pass
        assert refused.value.response.status_code == 404

    run(scenario())


def test_sigterm_closes_sessions_with_1001_and_exits_0(gateway_factory):
    gateway = gateway_factory("examples/echo.yaml")

    async def scenario():
        async with connect(gateway.url("/echo")) as ws:
            assert await ws.recv() == "Please enter your name"
            gateway.process.terminate()
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1001

    run(scenario())
    assert gateway.process.wait(timeout=15) == 0

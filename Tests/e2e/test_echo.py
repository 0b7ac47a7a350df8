"""A real client (Python `websockets`) against a real `wsgate serve` process."""
import asyncio
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rawws import RawClient, frame


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
            baseline = await gateway.settled_descriptors()
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
            assert await gateway.descriptors_after_settling(baseline) <= baseline  # no descriptor leaked

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


def test_each_bad_input_ends_only_its_connection_with_the_right_code(gateway_factory):
    gateway = gateway_factory("Tests/e2e/limits.yaml")

    async def bad(kind):
        client = await RawClient.open(gateway.port)
        assert client.status == 101
        if kind == "oversized frame":
            client.send(frame(0x2, b"x" * 1025))
            expected = 1009
        elif kind == "oversized message":
            client.send(frame(0x2, b"x" * 1000, fin=False))
            for _ in range(3):
                client.send(frame(0x0, b"x" * 1000, fin=False))
            client.send(frame(0x0, b"x" * 1000))
            expected = 1009
        elif kind == "invalid utf-8":
            client.send(frame(0x1, b"caf\xc3\x28"))
            expected = 1007
        elif kind == "never answers pings":
            expected = 1011  # the raw client reads pings but never sends a pong
        code, reason = await client.read_close()
        assert code == expected, f"{kind}: {code} {reason}"
        assert await client.closed_by_server(), kind
        client.close()

    async def scenario():
        headers = {"Origin": "https://good.example"}
        async with connect(gateway.url("/echo"), additional_headers=headers) as bystander:
            baseline = await gateway.settled_descriptors()
            for _ in range(5):
                await asyncio.gather(
                    bad("oversized frame"), bad("oversized message"), bad("invalid utf-8"), bad("never answers pings")
                )
                refused = await RawClient.open(gateway.port, extra_headers="Origin: https://evil.example\r\n")
                assert refused.status == 403
                # read() returns at end of stream: the server sent its reason and closed.
                body = await asyncio.wait_for(refused.reader.read(), timeout=5)
                assert b"is not allowed" in body
                refused.close()
                await bystander.send("still served")
                assert await bystander.recv() == "still served"
            assert await gateway.descriptors_after_settling(baseline) <= baseline  # no descriptor leaked

    run(scenario())


def test_client_that_never_reads_gets_backpressure_not_an_unbounded_buffer(gateway_factory):
    gateway = gateway_factory("scripts/autobahn.yaml")

    async def scenario():
        client = await RawClient.open(gateway.port, path="/")
        before = gateway.resident_mib()
        # The echo answers every message, but this client never reads: the server must stop
        # reading too instead of queueing the answers. Offer 256 MiB, for at most 5 seconds.
        written = await client.mebibytes_written_until_stalled()
        assert written < 256, "the server kept reading from a client that never reads"
        grown_mib = gateway.resident_mib() - before
        assert grown_mib < 64, f"server memory grew {grown_mib:.0f} MiB for a stalled client"
        client.writer.transport.abort()

    run(scenario())


def test_seed_chat_conversation(gateway_factory):
    gateway = gateway_factory("examples/chat.yaml")

    async def conversation():
        async with connect(gateway.url("/chat")) as first, connect(gateway.url("/chat")) as second:
            assert await first.recv() == "You've logged in as [user0]"
            assert await second.recv() == "You've logged in as [user1]"
            await first.send("hello")
            assert await first.recv() == "[user0]: hello"
            assert await second.recv() == "[user0]: hello"
            await second.send("hi there")
            assert await first.recv() == "[user1]: hi there"
            assert await second.recv() == "[user1]: hi there"

    run(conversation())


def test_rooms_example(gateway_factory):
    gateway = gateway_factory("examples/rooms.yaml")

    async def conversation():
        async with connect(gateway.url("/rooms/lobby?nick=ann")) as ann:
            assert await ann.recv() == "Welcome to lobby, ann"
            async with connect(gateway.url("/rooms/lobby?nick=bob")) as bob:
                assert await ann.recv() == "bob joined lobby"
                assert await bob.recv() == "Welcome to lobby, bob"
                await bob.send("hi")
                assert await ann.recv() == "[bob@lobby]: hi"
                assert await bob.recv() == "[bob@lobby]: hi"
            assert await ann.recv() == "bob left lobby"
        async with connect(gateway.url("/rooms/lobby?nick=cy")) as cy:
            assert await cy.recv() == "Welcome to lobby, cy"
            assert await cy.recv() == "[bob@lobby]: hi"  # history

    run(conversation())


def test_validate_reports_problems_with_positions_and_exit_codes():
    from conftest import ROOT, wsgate_binary
    import json
    import subprocess

    ok = subprocess.run([wsgate_binary(), "validate", "examples/echo.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = "Tests/GatewayConfigTests/Corpus/unknown-endpoint-key.yaml"
    text = subprocess.run([wsgate_binary(), "validate", bad], cwd=ROOT, capture_output=True, text=True)
    assert text.returncode == 1
    assert f"{bad}:6:5: error: unknown key 'max_frame_sise' in endpoints[0]; did you mean 'max_frame_size'?" in text.stderr
    as_json = subprocess.run(
        [wsgate_binary(), "validate", "--format", "json", "examples/echo.yaml", bad], cwd=ROOT, capture_output=True, text=True
    )
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["valid"] is False
    assert [f["valid"] for f in report["files"]] == [True, False]
    problem = report["files"][1]["problems"][0]
    assert (problem["line"], problem["column"], problem["severity"]) == (6, 5, "error")
    serve = subprocess.run([wsgate_binary(), "serve", bad], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert serve.returncode == 1 and "did you mean 'max_frame_size'" in serve.stderr


def test_door_limits_max_connections_and_slow_handshakes(gateway_factory):
    gateway = gateway_factory("Tests/e2e/door.yaml")

    async def scenario():
        async with connect(gateway.url("/echo")), connect(gateway.url("/echo")):
            third = await RawClient.open(gateway.port)
            assert third.status == 503
            assert b"maximum of 2 connections" in await asyncio.wait_for(third.reader.read(), timeout=5)
            third.close()
        # Both closed: a new session gets in (once the server has seen them go).
        for _ in range(40):
            probe = await RawClient.open(gateway.port)
            probe.close()
            if probe.status == 101:
                break
            await asyncio.sleep(0.05)
        assert probe.status == 101
        # A client that never finishes its request head is dropped after handshake_timeout.
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), timeout=10) == b""
        assert time.monotonic() - started < 5
        writer.close()

    run(scenario())

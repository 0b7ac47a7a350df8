"""permessage-deflate through a real `wsgate serve`, with Python `websockets` and raw frames."""
import asyncio
import os
import random
import subprocess
import zlib

import pytest
from websockets.asyncio.client import connect

from conftest import ROOT
from rawws import RawClient, frame


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


def compressible_text(size: int) -> str:
    words = ["gateway", "frame", "deflate", "message", "socket", "endpoint", "window", "room", "echo"]
    rng = random.Random(7)
    out = []
    length = 0
    while length < size:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


@pytest.mark.parametrize("config,server_deflate", [("scripts/autobahn.yaml", True), ("Tests/e2e/nodeflate.yaml", False)])
@pytest.mark.parametrize("client_compression", ["deflate", None])
def test_one_mebibyte_messages_round_trip(gateway_factory, config, server_deflate, client_compression):
    gateway = gateway_factory(config)
    text = compressible_text(1 << 20)
    noise = os.urandom(1 << 20)

    async def scenario():
        async with connect(gateway.url("/"), compression=client_compression, max_size=None) as ws:
            negotiated = ws.response.headers.get("Sec-WebSocket-Extensions")
            assert (negotiated is not None) == (server_deflate and client_compression == "deflate"), negotiated
            for _ in range(2):  # twice: the second message runs on the kept compression context
                await ws.send(text)
                assert await ws.recv() == text
                await ws.send(noise)
                assert await ws.recv() == noise

    run(scenario())


def test_server_compresses_what_it_sends(gateway_factory):
    gateway = gateway_factory("scripts/autobahn.yaml")

    async def scenario():
        client = await RawClient.open(gateway.port, path="/", extra_headers="Sec-WebSocket-Extensions: permessage-deflate\r\n")
        # By default the server compresses each message on its own, and says so (RFC 7692 §7.1.1.1).
        assert client.headers["sec-websocket-extensions"] == "permessage-deflate; server_no_context_takeover"
        text = compressible_text(100_000).encode()
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        wire = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        client.send(frame(0x1, wire[:-4], rsv=0b100))
        opcode, rsv, payload = await client.read_frame_with_rsv()
        assert opcode == 0x1 and rsv == 0b100
        assert len(payload) < len(text) // 3
        assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == text
        client.close()

    run(scenario())


def test_zip_bomb_closes_1009_without_inflating_it(gateway_factory):
    gateway = gateway_factory("scripts/autobahn.yaml")  # max_message_size 16 MiB

    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]  # 1 GiB of zeros in about 1 MiB

    async def scenario():
        client = await RawClient.open(gateway.port, path="/", extra_headers="Sec-WebSocket-Extensions: permessage-deflate\r\n")
        before = gateway.resident_mib()
        client.send(frame(0x2, bomb, rsv=0b100))
        code, reason = await client.read_close()
        assert code == 1009, reason
        assert await client.closed_by_server()
        grown = gateway.resident_mib() - before
        assert grown < 96, f"the server grew {grown:.0f} MiB for a {len(bomb)} byte bomb"
        client.close()

    assert len(bomb) < 2 << 20
    run(scenario())


def test_custom_build_serves_a_registered_extension_named_in_yaml():
    binary = os.environ.get("WSGATE_FLIP_BIN", str(ROOT / ".build" / "release" / "wsgate-flip"))
    if not os.path.exists(binary):
        pytest.fail(f"{binary} does not exist: swift build -c release --product wsgate-flip")
    plain = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "release" / "wsgate"))
    refused = subprocess.run([plain, "validate", "examples/custom-extension/flip.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "unknown extension 'x-flip'" in refused.stderr
    from conftest import Gateway

    gateway = Gateway("examples/custom-extension/flip.yaml", binary=binary)
    try:

        async def scenario():
            client = await RawClient.open(gateway.port, path="/flip", extra_headers="Sec-WebSocket-Extensions: x-flip\r\n")
            assert client.headers["sec-websocket-extensions"] == "x-flip; note=hello"
            flipped = bytes(~b & 0xFF for b in b"hello")
            client.send(frame(0x1, flipped, rsv=0b010))
            opcode, rsv, payload = await client.read_frame_with_rsv()
            assert (opcode, rsv, payload) == (0x1, 0b010, flipped)
            client.close()

        run(scenario())
    finally:
        gateway.stop()


def test_deflate_sessions_release_their_zlib_streams_when_they_close(gateway_factory, tmp_path):
    """Each session with a compressed message holds about 300 KiB of zlib state: 600 sessions opened and
    closed one after another (half with a close frame, half dropped) must not pile it up."""
    config = tmp_path / "deflate.yaml"
    config.write_text("version: 1\nendpoints:\n  - { path: /raw, type: echo }\n")
    gateway = gateway_factory(str(config))

    async def scenario():
        async with connect(gateway.url("/raw")) as warm:
            await warm.send("w" * 200)
            await warm.recv()
        before = gateway.resident_mib()
        for n in range(600):
            ws = await connect(gateway.url("/raw"))
            await ws.send("compress me " * 20)
            assert await ws.recv() == "compress me " * 20
            if n % 2:
                await ws.close()
            else:
                ws.transport.abort()
        await asyncio.sleep(1)
        grown = gateway.resident_mib() - before
        assert grown < 48, f"RSS grew {grown:.0f} MiB over 600 closed deflate sessions"

    run(scenario())

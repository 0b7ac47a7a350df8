"""Hostile input at a real `wsgate serve`: lengths a peer claims never become allocations or traps."""
import asyncio
import os
import struct

import pytest
from websockets.asyncio.client import connect

from conftest import ROOT
from rawws import RawClient

CONFIG = str(ROOT / "Tests" / "e2e" / "hostile.yaml")
KINDS = ["/echo", "/room", "/cat", "/bin", "/shared"]
# 8 GiB (issue 17), one past ByteBuffer's 4 GiB, and 2^63 - 1, the largest a header may say.
CLAIMS = [8 << 30, (1 << 32) + 1, (1 << 63) - 1]


def run(coroutine, timeout=120):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout))


def claiming_header(length: int, opcode: int = 0x2, rsv: int = 0) -> bytes:
    """A masked frame header claiming `length` payload bytes, without the payload."""
    return bytes([0x80 | (rsv << 4) | opcode, 0x80 | 127]) + struct.pack(">Q", length) + os.urandom(4)


async def bystander(gateway):
    """An echo session opened before the attack; it must keep working through it."""
    ws = await connect(gateway.url("/echo"))
    await ws.send("before")
    assert await ws.recv() == "before"
    return ws


@pytest.mark.parametrize("path", KINDS)
def test_huge_length_claims_close_1009_and_the_gateway_keeps_serving(gateway_factory, path):
    gateway = gateway_factory(CONFIG)

    async def scenario():
        other = await bystander(gateway)
        for claim in CLAIMS:
            raw = await RawClient.open(gateway.port, path)
            assert raw.status == 101
            raw.writer.write(claiming_header(claim) + b"some payload bytes")
            await raw.writer.drain()
            code, reason = await asyncio.wait_for(raw.read_close(), timeout=10)
            assert code == 1009, (claim, reason)
            assert await raw.closed_by_server()
            await other.send(f"after {claim}")
            assert await other.recv() == f"after {claim}"
        await other.close()

    run(scenario())
    assert gateway.process.poll() is None, gateway.log()


def test_huge_claim_on_a_compressed_message_closes_1009(gateway_factory):
    gateway = gateway_factory(CONFIG)

    async def scenario():
        other = await bystander(gateway)
        raw = await RawClient.open(gateway.port, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        assert raw.status == 101 and "permessage-deflate" in raw.headers.get("sec-websocket-extensions", "")
        raw.writer.write(claiming_header((1 << 63) - 1, opcode=0x1, rsv=0b100) + b"\x00" * 32)
        await raw.writer.drain()
        code, _ = await asyncio.wait_for(raw.read_close(), timeout=10)
        assert code == 1009
        await other.send("still here")
        assert await other.recv() == "still here"
        await other.close()

    run(scenario())
    assert gateway.process.poll() is None, gateway.log()


def virtual_mib(gateway) -> float:
    """The gateway's address space (VmSize): an allocation shows here even before its pages are touched."""
    with open(f"/proc/{gateway.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) / 1024


def test_a_claim_the_engine_can_hold_is_not_allocated_up_front(gateway_factory):
    """1.5 GiB claimed, a few KiB sent: memory follows the bytes that came, not the claim."""
    gateway = gateway_factory(CONFIG)

    async def scenario():
        other = await bystander(gateway)
        before, virtual_before = gateway.resident_mib(), virtual_mib(gateway)
        clients = []
        for _ in range(4):
            raw = await RawClient.open(gateway.port, "/echo")
            raw.writer.write(claiming_header(3 << 29) + b"x" * 4096)
            await raw.writer.drain()
            clients.append(raw)
        await asyncio.sleep(0.5)
        grown, reserved = gateway.resident_mib() - before, virtual_mib(gateway) - virtual_before
        assert grown < 64, f"RSS grew by {grown:.0f} MiB for 4 x 1.5 GiB claims with 4 KiB each"
        assert reserved < 1024, f"address space grew by {reserved:.0f} MiB for 4 x 1.5 GiB claims"
        await other.send("fine")
        assert await other.recv() == "fine"
        for raw in clients:
            raw.writer.close()
        await other.close()

    run(scenario())
    assert gateway.process.poll() is None, gateway.log()


def test_fragments_adding_up_past_what_the_engine_holds_close_1009(gateway_factory):
    gateway = gateway_factory(CONFIG)

    async def scenario():
        raw = await RawClient.open(gateway.port, "/echo")
        first = bytes([0x02, 0x80 | 3]) + b"\x00\x00\x00\x00" + b"abc"  # binary, not final, 3 bytes
        raw.writer.write(first + claiming_header((1 << 31) - 3, opcode=0x0))
        await raw.writer.drain()
        code, _ = await asyncio.wait_for(raw.read_close(), timeout=10)
        assert code == 1009

    run(scenario())
    assert gateway.process.poll() is None, gateway.log()


def open_sessions(gateway, endpoint: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(gateway.http_url("/metrics"), timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith("wsgate_connections_open{") and f'endpoint="{endpoint}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_peer_that_closes_and_never_reads_is_let_go(gateway_factory, tmp_path):
    """The close reply waits behind echoes the peer never takes: the connection must still end."""
    config = tmp_path / "close.yaml"
    config.write_text("version: 1\ndefaults: { ping_period: 0, timeout: 500ms }\n"
                      "endpoints:\n  - { path: /echo, type: echo }\n")
    gateway = gateway_factory(str(config))

    async def scenario():
        import socket as sockets

        sock = sockets.socket()
        sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", gateway.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        from rawws import frame

        writer.write(b"".join(frame(0x2, b"e" * 500_000) for _ in range(8)) + frame(0x8, b"\x03\xe8"))
        await writer.drain()
        # Never read again. Within `timeout` (at least 1 s) the gateway lets the connection go.
        deadline = asyncio.get_running_loop().time() + 8
        while open_sessions(gateway, "/echo") > 0:
            assert asyncio.get_running_loop().time() < deadline, "the connection is still held"
            await asyncio.sleep(0.1)
        writer.close()

    run(scenario())

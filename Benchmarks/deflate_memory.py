#!/usr/bin/env python3
"""Memory per connection held open after one compressed message each (permessage-deflate at rest).

Starts `wsgate serve` with an echo endpoint (deflate on, the server settings given), opens one
warm-up connection, reads the server's RSS, then opens N connections that each send one compressed
chat message and read its echo, holds them for a second and reads the RSS again. Prints the growth
per connection for each client offer:

- `browser`: `permessage-deflate; client_max_window_bits` (what Chrome and Firefox send);
- `no-context`: `permessage-deflate; client_no_context_takeover; server_no_context_takeover`
  (what gorilla sends);
- `plain`: no extension offered (the idle cost of a connection, for comparison).

    swift build -c release --product wsgate
    .venv-test/bin/python Benchmarks/deflate_memory.py [--connections 2000] [--set server_no_context_takeover=false]
"""
import argparse
import asyncio
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "e2e"))
from benchlib import free_port, wait_for_port  # noqa: E402
from rawws import RawClient, frame  # noqa: E402

OFFERS = {
    "browser": "permessage-deflate; client_max_window_bits",
    "no-context": "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    "plain": None,
}


def rss_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS")


def message(index: int) -> bytes:
    return json.dumps({"type": "message", "room": f"room-{index % 20}", "from": "ann", "ts": 1764230400 + index,
                       "text": "meeting at noon, ship it today, review please " * 3}).encode()


async def connect(port: int, offer, index: int):
    headers = f"Sec-WebSocket-Extensions: {offer}\r\n" if offer else ""
    client = await RawClient.open(port, path="/", extra_headers=headers)
    assert client.status == 101, client.status
    text = message(index)
    if offer:
        assert client.headers.get("sec-websocket-extensions", "").startswith("permessage-deflate"), client.headers
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        client.send(frame(0x1, payload[:-4], rsv=0b100))
    else:
        client.send(frame(0x1, text))
    _, rsv, reply = await client.read_frame_with_rsv()
    if rsv & 0b100:
        reply = zlib.decompressobj(-15).decompress(reply + b"\x00\x00\xff\xff")
    assert reply == text
    return client


async def hold(port: int, offer, count: int, pid: int):
    warm = await connect(port, offer, 0)
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    clients = []
    for start in range(0, count, 200):
        clients += await asyncio.gather(*(connect(port, offer, i) for i in range(start, min(count, start + 200))))
    await asyncio.sleep(1)
    after = rss_kib(pid)
    for client in clients + [warm]:
        client.close()
    return (after - before) / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a permessage-deflate setting, e.g. server_no_context_takeover=false")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    binary = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "release" / "wsgate"))
    settings = [setting.replace("=", ": ", 1) for setting in args.set]
    print(f"wsgate echo, permessage-deflate {{ {', '.join(settings)} }}, {args.connections:,} connections, "
          "one message each")
    for name, offer in OFFERS.items():
        port = free_port()
        config = pathlib.Path(tempfile.mkdtemp()) / "memory.yaml"
        config.write_text(
            "version: 1\ndefaults:\n  ping_period: 0\n  extensions:\n"
            f"    permessage-deflate: {{ {', '.join(settings)} }}\n"
            "server: { max_connections: 100000 }\n"
            "endpoints:\n  - { path: /, type: echo }\n"
        )
        server = subprocess.Popen([binary, "serve", str(config), "--listen", f"127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            started = time.perf_counter()
            per = asyncio.run(hold(port, offer, args.connections, server.pid))
            print(f"  {name:11} {per:6.1f} KiB per connection  ({time.perf_counter() - started:.1f} s)")
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()

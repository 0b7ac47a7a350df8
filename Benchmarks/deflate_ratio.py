#!/usr/bin/env python3
"""Compression ratio and speed of wsgate's permessage-deflate on two text corpora.

Starts `wsgate serve scripts/autobahn.yaml` (an echo with deflate on), sends each corpus as
compressed messages from a raw client and reads the server's compressed echoes. Prints, per
corpus: messages, bytes, the server's compressed size (ratio = compressed / original),
the round-trip rate and the server's own CPU time (utime + stime from /proc).

    swift build -c release --product wsgate
    .venv-test/bin/python Benchmarks/deflate_ratio.py [--level N] [--set server_no_context_takeover=false]
"""
import argparse
import asyncio
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "e2e"))
from benchlib import cpu_seconds, free_port, wait_for_port  # noqa: E402
from rawws import RawClient, frame  # noqa: E402


def corpora():
    license_text = pathlib.Path("/usr/share/common-licenses/GPL-3").read_bytes()
    chunks = [license_text[i : i + 4096] for i in range(0, len(license_text) - 4096, 4096)]
    rng = random.Random(1)
    names = ["ann", "bob", "chen", "dara", "eve", "farid", "gus"]
    words = "the quick brown fox jumps over lazy dog meeting at noon ship it today review please thanks".split()
    chat = [
        json.dumps(
            {
                "type": "message",
                "room": f"room-{rng.randint(1, 20)}",
                "from": rng.choice(names),
                "ts": 1764230400 + i,
                "text": " ".join(rng.choice(words) for _ in range(rng.randint(3, 25))),
            }
        ).encode()
        for i in range(5000)
    ]
    return [("GPL-3 text, 4 KiB messages", chunks * 20), ("JSON chat events", chat)]


async def run_corpus(port, messages):
    client = await RawClient.open(port, path="/", extra_headers="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert client.headers.get("sec-websocket-extensions", "").startswith("permessage-deflate")
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    decompressor = zlib.decompressobj(-15)
    wire_out = 0
    start = time.perf_counter()
    for message in messages:
        payload = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        client.send(frame(0x1, payload[:-4], rsv=0b100))
        opcode, rsv, reply = await client.read_frame_with_rsv()
        wire_out += len(reply)
        restored = decompressor.decompress(reply + b"\x00\x00\xff\xff") if rsv & 0b100 else reply
        assert restored == message
    elapsed = time.perf_counter() - start
    client.close()
    return wire_out, elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--level", type=int, default=6)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another permessage-deflate setting, e.g. server_no_context_takeover=false")
    args = parser.parse_args()
    binary = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "release" / "wsgate"))
    settings = [setting.replace("=", ": ", 1) for setting in args.set]
    port = free_port()
    config = pathlib.Path(tempfile.mkdtemp()) / "bench.yaml"
    config.write_text(
        "version: 1\ndefaults:\n  ping_period: 0\n  extensions:\n"
        f"    permessage-deflate: {{ {', '.join([f'compression_level: {args.level}'] + settings)} }}\n"
        "endpoints:\n  - { path: /, type: echo }\n"
    )
    server = subprocess.Popen([binary, "serve", str(config), "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        print(f"wsgate permessage-deflate, compression_level {args.level} {' '.join(args.set)}, "
              f"{os.cpu_count()} cores")
        print(f"{'corpus':30} {'messages':>8} {'MiB in':>7} {'ratio':>6} {'msg/s':>8} {'MiB/s':>7} {'MiB/cpu-s':>9}")
        for name, messages in corpora():
            cpu_before = cpu_seconds(server.pid)
            wire, elapsed = asyncio.run(run_corpus(port, messages))
            cpu = cpu_seconds(server.pid) - cpu_before
            total = sum(len(m) for m in messages)
            mib = total / (1 << 20)
            print(
                f"{name:30} {len(messages):8d} {mib:7.1f} {wire / total:6.3f} {len(messages) / elapsed:8.0f} "
                f"{mib / elapsed:7.1f} {mib / max(cpu, 1e-9):9.1f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""RSS growth per idle connection of wsgate's endpoint kinds (echo, a room member), for one or more
builds side by side: the Go idle client (`echoclient -mode=idle`) holds the connections, deflate is
enabled and `ping_period` is 0. `Benchmarks/run.py` measures echo against the peers; this compares
builds and kinds.

    Benchmarks/idle_memory.py                                   # .build/release/wsgate, echo and broadcast
    Benchmarks/idle_memory.py --binary OLD --binary NEW --connections 5000
"""
import argparse
import pathlib
import sys
import tempfile

from benchlib import BUILD, build_go, ensure_go_tools, release_wsgate
from run import idle_once


def config(kind):
    endpoint = "type: echo" if kind == "echo" else 'type: broadcast, welcome: null, format: "{message}"'
    path = pathlib.Path(tempfile.mkdtemp()) / f"{kind}.yaml"
    path.write_text(
        "version: 1\nserver: { max_connections: 100000, log: { level: warning } }\n"
        "defaults:\n  ping_period: 0\n  extensions: { permessage-deflate: { enabled: true } }\n"
        f"endpoints:\n  - {{ path: /, {endpoint} }}\n")
    return path


def measure(binary, kind, count):
    """`run.py`'s idle measurement (warm-up connection, RSS before and while held) on one build and kind."""
    figures = idle_once(
        lambda port: [str(binary), "serve", str(config(kind)), "--listen", f"127.0.0.1:{port}"],
        lambda server: [str(BUILD / "echoclient"), f"-url={server.url()}", "-mode=idle", f"-connections={count}",
                        "-concurrency=64", "-duration=120s"],
        count)
    return figures["kib_per_connection"], figures["connections"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", action="append", help="a wsgate build (repeat to compare; default: release)")
    parser.add_argument("--kinds", default="echo,broadcast")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    ensure_go_tools()
    build_go("echo", ["echoclient"])
    binaries = args.binary or [str(release_wsgate())]
    for run in range(args.runs):
        for kind in args.kinds.split(","):
            for binary in binaries:
                kib, ready = measure(binary, kind, args.connections)
                print(f"run {run + 1} {kind:9} {binary}: {kib:.2f} KiB per connection ({ready} held)", flush=True)


if __name__ == "__main__":
    sys.exit(main())

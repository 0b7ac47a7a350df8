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
import re
import subprocess
import sys
import tempfile
import time

from benchlib import BUILD, build_go, ensure_go_tools, free_port, release_wsgate, wait_for_port


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def config(kind):
    endpoint = "type: echo" if kind == "echo" else 'type: broadcast, welcome: null, format: "{message}"'
    path = pathlib.Path(tempfile.mkdtemp()) / f"{kind}.yaml"
    path.write_text(
        "version: 1\nserver: { max_connections: 100000, log: { level: warning } }\n"
        "defaults:\n  ping_period: 0\n  extensions: { permessage-deflate: { enabled: true } }\n"
        f"endpoints:\n  - {{ path: /, {endpoint} }}\n")
    return path


def measure(binary, kind, count):
    port = free_port()
    server = subprocess.Popen([str(binary), "serve", str(config(kind)), "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = None
    try:
        wait_for_port(port)
        url = f"-url=ws://127.0.0.1:{port}/"
        # One warm-up connection: what the first connection allocates once is not per connection.
        subprocess.run([str(BUILD / "echoclient"), url, "-mode=idle", "-connections=1", "-duration=0.3s"],
                       capture_output=True, timeout=60)
        time.sleep(0.5)
        before = rss_kib(server.pid)
        client = subprocess.Popen([str(BUILD / "echoclient"), url, "-mode=idle", f"-connections={count}",
                                   "-concurrency=64", "-duration=120s"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        ready = None
        while time.time() < deadline and ready is None:
            match = re.search(r'"ready":\s*(\d+)', client.stdout.readline() or "")
            if match:
                ready = int(match.group(1))
        if not ready:
            raise SystemExit(f"{binary}: the idle client did not get its connections open")
        time.sleep(1.0)
        return (rss_kib(server.pid) - before) / ready, ready
    finally:
        if client:
            client.terminate()
            client.communicate(timeout=30)
        server.terminate()
        server.wait(timeout=30)


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

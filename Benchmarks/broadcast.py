#!/usr/bin/env python3
"""Broadcast to 1,000 members: wsgate against a gorilla/websocket hub, same work, same client.

Each run starts one server, connects 1,000 members with the Go load client
(Benchmarks/broadcast/loadclient), publishes messages from one member with 32 in
flight, and records deliveries per second, latency percentiles and the server's
own CPU time (utime + stime from /proc). Runs alternate between the servers;
the table shows medians with the min–max spread and the ratios.

    Benchmarks/broadcast.py [--runs 3] [--members 1000] [--messages 2000] [--size 64]

Needs Debian's golang-go and golang-github-gorilla-websocket-dev (installed when
missing) and a release build of wsgate (built when missing).
"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile

from benchlib import BUILD, build_go, cpu_seconds, ensure_go_tools, free_port, release_wsgate, wait_for_port

def ensure_tools():
    ensure_go_tools()
    build_go("broadcast", ["hub", "loadclient"])
    return release_wsgate()


def raise_limits():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))


def run_once(name, command, port, args):
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_limits)
    try:
        wait_for_port(port)
        cpu_before = cpu_seconds(server.pid)
        result = subprocess.run(
            [
                str(BUILD / "loadclient"),
                f"-url=ws://127.0.0.1:{port}/",
                f"-members={args.members}",
                f"-messages={args.messages}",
                f"-size={args.size}",
                f"-window={args.window}",
            ],
            capture_output=True,
            text=True,
            preexec_fn=raise_limits,
            timeout=600,
        )
        cpu = cpu_seconds(server.pid) - cpu_before
        if result.returncode != 0:
            raise SystemExit(f"{name}: load client failed: {result.stderr.strip()}")
        figures = json.loads(result.stdout)
        figures["server_cpu_s"] = cpu
        figures["deliveries_per_cpu_s"] = figures["deliveries"] / cpu if cpu > 0 else float("nan")
        return figures
    finally:
        server.terminate()
        server.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--json", help="also write the raw runs to this file")
    args = parser.parse_args()
    raise_limits()
    wsgate = ensure_tools()
    config = pathlib.Path(tempfile.mkdtemp()) / "broadcast.yaml"
    config.write_text(
        "version: 1\n"
        "defaults: { ping_period: 0, extensions: { permessage-deflate: { enabled: false } } }\n"
        "endpoints:\n"
        "  - { path: /, type: broadcast, welcome: null, format: \"{message}\", max_queue: 1MiB }\n"
    )
    servers = {
        "wsgate": lambda port: [str(wsgate), "serve", str(config), "--listen", f"127.0.0.1:{port}", "--log-level", "error"],
        "gorilla hub": lambda port: [str(BUILD / "hub"), f"-addr=127.0.0.1:{port}"],
    }
    runs = {name: [] for name in servers}
    for run in range(args.runs):
        for name, command in servers.items():
            port = free_port()
            figures = run_once(name, command(port), port, args)
            runs[name].append(figures)
            print(
                f"run {run + 1} {name:12} {figures['deliveries_per_second']:>10,.0f} deliveries/s  "
                f"p50 {figures['p50_ms']:.1f} ms  p99 {figures['p99_ms']:.1f} ms  p99.9 {figures['p999_ms']:.1f} ms  "
                f"server cpu {figures['server_cpu_s']:.2f} s",
                file=sys.stderr,
            )
    print(
        f"\nbroadcast: {args.members} members, {args.messages} messages of {args.size} B, "
        f"{args.window} in flight, {args.runs} runs each, {os.cpu_count()} cores"
    )
    keys = [
        ("deliveries_per_second", "deliveries/s", "{:,.0f}"),
        ("deliveries_per_cpu_s", "deliveries/server-cpu-s", "{:,.0f}"),
        ("p50_ms", "p50 latency ms", "{:.1f}"),
        ("p99_ms", "p99 latency ms", "{:.1f}"),
        ("p999_ms", "p99.9 latency ms", "{:.1f}"),
    ]
    print(f"{'server':14}" + "".join(f"{label:>34}" for _, label, _ in keys))
    for name, figures in runs.items():
        cells = []
        for key, _, fmt in keys:
            values = [f[key] for f in figures]
            cells.append(f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})")
        print(f"{name:14}" + "".join(f"{cell:>34}" for cell in cells))
    med = {name: {key: statistics.median(f[key] for f in figures) for key, _, _ in keys} for name, figures in runs.items()}
    print(
        "ratio wsgate / gorilla hub: "
        f"deliveries/s {med['wsgate']['deliveries_per_second'] / med['gorilla hub']['deliveries_per_second']:.2f}x, "
        f"per server CPU-second {med['wsgate']['deliveries_per_cpu_s'] / med['gorilla hub']['deliveries_per_cpu_s']:.2f}x"
    )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Process relay: wsgate against websocketd on the same work, driven by the same clients (a Go
gorilla/websocket client and `wsgate bench`).

Two measures, servers alternating, each run on a fresh server:
- sessions per second: connect, one round trip through a new `cat`, close (8 at a time);
- messages per second through one long-lived `cat` (64 in flight).
Also the server's CPU time (utime + stime of the server and its children, from /proc).

    Benchmarks/process_relay.py [--runs 3] [--sessions 500] [--messages 20000]

Needs Debian's websocketd, golang-go and golang-github-gorilla-websocket-dev (installed when
missing) and a release build of wsgate (built when missing).
"""
import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

from benchlib import BUILD, build_go, ensure_go_tools, free_port, latencies, release_wsgate, wait_for_port

def ensure_tools():
    ensure_go_tools({"websocketd": "websocketd"})
    build_go("process", ["relayclient"])
    return release_wsgate()


def tree_cpu_seconds(pid):
    """utime + stime of a process plus its reaped children (cutime + cstime)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def measure(command, port, client):
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        before = tree_cpu_seconds(server.pid)
        result = subprocess.run(client(f"ws://127.0.0.1:{port}/"), capture_output=True, text=True, timeout=600)
        cpu = tree_cpu_seconds(server.pid) - before
        if result.returncode != 0:
            raise SystemExit(f"{command[0]}: client failed: {result.stderr.strip()}")
        figures = json.loads(result.stdout)
        # wsgate bench's report says perSecond; the Go client's per_second.
        figures.setdefault("per_second", figures.get("perSecond", 0))
        figures["server_cpu_s"] = cpu
        return figures
    finally:
        server.terminate()
        server.wait(timeout=20)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()
    wsgate = ensure_tools()
    config = pathlib.Path(tempfile.mkdtemp()) / "relay.yaml"
    config.write_text(
        "version: 1\n"
        "defaults: { ping_period: 0, extensions: null }\n"
        "endpoints:\n"
        "  - { path: /, type: process, command: [cat], max_processes: 1000 }\n"
    )
    cat = shutil.which("cat")
    servers = {
        "wsgate": lambda port: [str(wsgate), "serve", str(config), "--listen", f"127.0.0.1:{port}", "--log-level", "error"],
        "websocketd": lambda port: ["websocketd", "--address=127.0.0.1", f"--port={port}", "--loglevel=error", cat],
    }
    relayclient = str(BUILD / "relayclient")
    work = {
        ("sessions/s", "Go client"): lambda url: [
            relayclient, f"-url={url}", "-mode=sessions", f"-count={args.sessions}", "-concurrency=8"],
        ("sessions/s", "wsgate bench"): lambda url: [
            str(wsgate), "bench", url, "--mode", "connect", "--connections", "8", "--messages", str(args.sessions),
            "--duration", "120s", "--json"],
        ("messages/s", "Go client"): lambda url: [
            relayclient, f"-url={url}", "-mode=messages", f"-count={args.messages}", "-window=64"],
        ("messages/s", "wsgate bench"): lambda url: [
            str(wsgate), "bench", url, "--mode", "echo", "--connections", "1", "--in-flight", "64",
            "--messages", str(args.messages), "--duration", "120s", "--json"],
    }
    results = {(name, measure_name): [] for name in servers for measure_name in work}
    for run in range(args.runs):
        for measure_name, client in work.items():
            for name, command in servers.items():
                port = free_port()
                figures = measure(command(port), port, client)
                results[(name, measure_name)].append(figures)
                print(
                    f"run {run + 1} {measure_name[0]:10} {measure_name[1]:12} {name:10} "
                    f"{figures['per_second']:>10,.0f}/s server cpu {figures['server_cpu_s']:.2f} s",
                    file=sys.stderr,
                )
    print(f"\nprocess relay through `cat`: {args.runs} runs each, medians (min–max), {os.cpu_count()} cores")
    for measure_name in work:
        line = []
        medians = {}
        for name in servers:
            values = [f["per_second"] for f in results[(name, measure_name)]]
            per_cpu = [f["count"] / f["server_cpu_s"] for f in results[(name, measure_name)] if f["server_cpu_s"] > 0]
            medians[name] = (statistics.median(values), statistics.median(per_cpu) if per_cpu else float("nan"))
            line.append(
                f"{name} {medians[name][0]:,.0f} ({min(values):,.0f}–{max(values):,.0f}), "
                f"{medians[name][1]:,.0f} per server CPU-second, {latencies(results[(name, measure_name)])}"
            )
        ratio = medians["wsgate"][0] / medians["websocketd"][0]
        ratio_cpu = medians["wsgate"][1] / medians["websocketd"][1]
        print(
            f"{measure_name[0]:10} {measure_name[1]:12} " + "; ".join(line)
            + f"; ratio {ratio:.2f}x ({ratio_cpu:.2f}x per CPU-second)"
        )


if __name__ == "__main__":
    main()

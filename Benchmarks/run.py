#!/usr/bin/env python3
"""wsgate against its peers, in one run, on the same machine, with plots.

Builds everything in release, then runs each benchmark with the servers alternating and
every server driven by two clients, `wsgate bench` and a Go gorilla/websocket client, so
that no server is judged only by its own tool:

- echo, 64 B and 16 KiB, without and with permessage-deflate: wsgate, a Hummingbird
  WebSocket echo server (Benchmarks/hummingbird-echo), a gorilla/websocket echo server
  (Benchmarks/echo/echoserver), Node's `ws` (Benchmarks/node/echo.js, Debian's node-ws);
  Go client Benchmarks/echo/echoclient;
- broadcast to 1,000 members: wsgate, the gorilla hub (Benchmarks/broadcast/hub), a Hummingbird
  hub (Benchmarks/hummingbird-echo --hub) and a `ws` hub (Benchmarks/node/hub.js); Go client
  Benchmarks/broadcast/loadclient;
- process relay through `cat`, sessions per second: wsgate and websocketd; Go client
  Benchmarks/process/relayclient;
- memory per idle connection: the server's RSS growth over N connections held open,
  against the echo peers; and the same after one compressed message on each connection
  (permessage-deflate at rest, the Go client only).

Prints medians with the min–max spread and the ratios, and writes results.json,
results.md and PNG plots to --out (default Benchmarks/results).

    Benchmarks/run.py [--quick] [--runs 3] [--only echo,broadcast,relay,idle,idle-deflate] [--require-quiet] [--out DIR]

--quick is a smoke check (one short run of each, under a minute here); the full run
takes about 8 minutes on 2 cores, plus the builds. --only runs some benchmarks and
replaces just those in --out's results.json; --require-quiet refuses results taken
while a build or test run shared the machine. Needs Debian's golang-go,
golang-github-gorilla-websocket-dev, websocketd, nodejs and node-ws (installed when missing) and
matplotlib in .venv-bench (made when missing).
"""
import argparse
import json
import os
import pathlib
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import BUILD, ROOT, build_go, ensure_go_tools, free_port, latency, wait_for_port

RESULTS = ROOT / "Benchmarks" / "results"
WSGATE = ROOT / ".build" / "release" / "wsgate"
HUMMINGBIRD = BUILD / "hummingbird-echo" / "release" / "hummingbird-echo"
NODE = ROOT / "Benchmarks" / "node"


def log(message):
    print(message, file=sys.stderr, flush=True)


def raise_limits():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))


def ensure_node_ws():
    """Installs Debian's nodejs and node-ws (Node's `ws`) when missing."""
    if shutil.which("node") and pathlib.Path("/usr/share/nodejs/ws/package.json").exists():
        return
    log("installing nodejs and node-ws (apt-get)")
    subprocess.run(["apt-get", "install", "-y", "-q", "nodejs", "node-ws"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def build_all():
    ensure_go_tools({"websocketd": "websocketd"})
    ensure_node_ws()
    build_go("echo", ["echoserver", "echoclient"])
    build_go("broadcast", ["hub", "loadclient"])
    build_go("process", ["relayclient"])
    log("building wsgate (release)")
    subprocess.run(["swift", "build", "-c", "release", "--product", "wsgate"], cwd=ROOT, check=True)
    log("building the Hummingbird echo server (release)")
    subprocess.run(
        ["swift", "build", "-c", "release", "--scratch-path", str(BUILD / "hummingbird-echo")],
        cwd=ROOT / "Benchmarks" / "hummingbird-echo",
        check=True,
    )


def tree_cpu_seconds(pid):
    """utime + stime of a process plus its reaped children, from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Server:
    """A server process on a free port, quiet, with raised descriptor limits."""

    def __init__(self, command_for_port):
        self.port = free_port()
        self.process = subprocess.Popen(
            command_for_port(self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=raise_limits,
        )
        wait_for_port(self.port)

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_client(command, timeout):
    result = subprocess.run(command, capture_output=True, text=True, preexec_fn=raise_limits, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}… exited {result.returncode}: {result.stderr.strip()[-600:]}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def measured(server_command, client_command, timeout=600, settle=0.2):
    """Runs one client against a fresh server; the figures plus the server's CPU seconds."""
    server = Server(server_command)
    try:
        time.sleep(settle)
        before = tree_cpu_seconds(server.process.pid)
        figures = run_client(client_command(server), timeout)
        figures["server_cpu_s"] = tree_cpu_seconds(server.process.pid) - before
        return figures
    finally:
        server.stop()


# ---------------------------------------------------------------- configurations


def write_configs(folder):
    echo = folder / "echo.yaml"
    echo.write_text(
        "version: 1\n"
        "server: { max_connections: 100000, log: { level: warning } }\n"
        "defaults:\n"
        "  ping_period: 0\n"
        "  max_frame_size: 16MiB\n"
        "  max_message_size: 16MiB\n"
        "  extensions: { permessage-deflate: { enabled: true, compression_level: 6, compress_min_size: 32 } }\n"
        "endpoints:\n"
        "  - { path: /, type: echo }\n"
    )
    broadcast = folder / "broadcast.yaml"
    broadcast.write_text(
        "version: 1\n"
        "server: { max_connections: 100000, log: { level: warning } }\n"
        "defaults: { ping_period: 0, extensions: { permessage-deflate: { enabled: false } } }\n"
        "endpoints:\n"
        '  - { path: /, type: broadcast, welcome: null, format: "{message}", max_queue: 1MiB }\n'
    )
    relay = folder / "relay.yaml"
    relay.write_text(
        "version: 1\n"
        "server: { log: { level: warning } }\n"
        "defaults: { ping_period: 0, extensions: null }\n"
        "endpoints:\n"
        "  - { path: /, type: process, command: [cat], max_processes: 1000 }\n"
    )
    return echo, broadcast, relay


# ---------------------------------------------------------------- benchmarks


ECHO_CASES = {"echo-64": (64, False), "echo-16k": (16384, False), "echo-64-deflate": (64, True),
              "echo-16k-deflate": (16384, True)}
PIECES = [*ECHO_CASES, "broadcast", "relay", "idle", "idle-deflate"]


def piece_of(case):
    """Which --only piece a result case belongs to ("echo 16 KiB deflate" -> "echo-16k-deflate")."""
    if case.startswith("echo"):
        size = "16k" if "KiB" in case else "64"
        return f"echo-{size}{'-deflate' if 'deflate' in case else ''}"
    if case.startswith("idle") and "deflate" in case:
        return "idle-deflate"
    return {"broadcast": "broadcast", "process": "relay", "idle": "idle"}[case.split()[0]]


def echo_benchmark(args, configs, results):
    echo_config = configs[0]
    cases = [ECHO_CASES[name] for name in ECHO_CASES if name in args.pieces]
    seconds = 1.0 if args.quick else 4.0
    servers = {
        "wsgate": lambda deflate: lambda port: [
            str(WSGATE), "serve", str(echo_config), "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
        "hummingbird": lambda deflate: lambda port: [str(HUMMINGBIRD), str(port)] + (["--deflate"] if deflate else []),
        "gorilla": lambda deflate: lambda port: [
            str(BUILD / "echoserver"), f"-addr=127.0.0.1:{port}", f"-compress={'true' if deflate else 'false'}", "-level=6"],
        "node ws": lambda deflate: lambda port: ["node", str(NODE / "echo.js"), str(port)] + (
            ["--deflate"] if deflate else []),
    }
    clients = {
        "wsgate bench": lambda size, deflate: lambda server: [
            str(WSGATE), "bench", server.url(), "--mode", "echo", "--connections", str(args.connections),
            "--in-flight", str(args.in_flight), "--size", str(size), "--duration", f"{seconds}s",
            "--messages", "100000000", "--threads", str(args.client_threads), "--json",
        ] + (["--deflate"] if deflate else []),
        "gorilla client": lambda size, deflate: lambda server: [
            str(BUILD / "echoclient"), f"-url={server.url()}", "-mode=echo", f"-connections={args.connections}",
            f"-window={args.in_flight}", f"-size={size}", f"-duration={seconds}s", "-messages=100000000",
            f"-compress={'true' if deflate else 'false'}",
        ],
    }
    for run in range(args.runs):
        for size, deflate in cases:
            case = f"echo {'16 KiB' if size > 1000 else '64 B'}{' deflate' if deflate else ''}"
            for client, client_command in clients.items():
                for server, server_command in servers.items():
                    figures = measured(server_command(deflate), client_command(size, deflate))
                    per_second = figures.get("per_second", figures.get("messages_per_second"))
                    record(results, case, server, client, per_second, figures, "messages/s")
                    log(f"run {run + 1} {case:18} {client:15} {server:12} {per_second:>10,.0f} messages/s  "
                        f"server cpu {figures['server_cpu_s']:.2f} s")


def broadcast_benchmark(args, configs, results):
    members = 200 if args.quick else 1000
    messages = 300 if args.quick else 2000
    servers = {
        "wsgate": lambda port: [str(WSGATE), "serve", str(configs[1]), "--listen", f"127.0.0.1:{port}",
                                "--log-level", "warning"],
        "gorilla hub": lambda port: [str(BUILD / "hub"), f"-addr=127.0.0.1:{port}"],
        "hummingbird hub": lambda port: [str(HUMMINGBIRD), str(port), "--hub"],
        "node ws": lambda port: ["node", str(NODE / "hub.js"), str(port)],
    }
    clients = {
        "wsgate bench": lambda server: [
            str(WSGATE), "bench", server.url(), "--mode", "broadcast", "--connections", str(members),
            "--messages", str(messages), "--in-flight", "32", "--size", "64", "--duration", "60s",
            "--threads", str(args.client_threads), "--json"],
        "gorilla client": lambda server: [
            str(BUILD / "loadclient"), f"-url={server.url()}", f"-members={members}", f"-messages={messages}",
            "-size=64", "-window=32"],
    }
    case = f"broadcast to {members:,}"
    for run in range(args.runs):
        for client, client_command in clients.items():
            for server, server_command in servers.items():
                figures = measured(server_command, client_command)
                per_second = figures.get("per_second", figures.get("deliveries_per_second"))
                record(results, case, server, client, per_second, figures, "deliveries/s")
                log(f"run {run + 1} {case:18} {client:15} {server:12} {per_second:>10,.0f} deliveries/s  "
                    f"server cpu {figures['server_cpu_s']:.2f} s")


def relay_benchmark(args, configs, results):
    sessions = 150 if args.quick else 600
    cat = shutil.which("cat")
    servers = {
        "wsgate": lambda port: [str(WSGATE), "serve", str(configs[2]), "--listen", f"127.0.0.1:{port}",
                                "--log-level", "warning"],
        "websocketd": lambda port: ["websocketd", "--address=127.0.0.1", f"--port={port}", "--loglevel=error", cat],
    }
    clients = {
        "wsgate bench": lambda server: [
            str(WSGATE), "bench", server.url(), "--mode", "connect", "--connections", "8",
            "--messages", str(sessions), "--duration", "60s", "--threads", str(args.client_threads), "--json"],
        "gorilla client": lambda server: [
            str(BUILD / "relayclient"), f"-url={server.url()}", "-mode=sessions", f"-count={sessions}",
            "-concurrency=8"],
    }
    case = "process relay"
    for run in range(args.runs):
        for client, client_command in clients.items():
            for server, server_command in servers.items():
                figures = measured(server_command, client_command)
                per_second = figures["per_second"]
                record(results, case, server, client, per_second, figures, "sessions/s")
                log(f"run {run + 1} {case:18} {client:15} {server:12} {per_second:>10,.0f} sessions/s  "
                    f"server cpu {figures['server_cpu_s']:.2f} s")


def idle_benchmark(args, configs, results):
    count = args.idle
    servers = {
        "wsgate": lambda port: [str(WSGATE), "serve", str(configs[0]), "--listen", f"127.0.0.1:{port}",
                                "--log-level", "warning"],
        "hummingbird": lambda port: [str(HUMMINGBIRD), str(port)],
        "gorilla": lambda port: [str(BUILD / "echoserver"), f"-addr=127.0.0.1:{port}"],
        "node ws": lambda port: ["node", str(NODE / "echo.js"), str(port)],
    }
    hold = 120  # an upper bound: the client is stopped once the server's RSS is read
    clients = {
        "wsgate bench": lambda server: [
            str(WSGATE), "bench", server.url(), "--mode", "idle", "--connections", str(count), "--in-flight", "64",
            "--duration", f"{hold}s", "--threads", str(args.client_threads), "--timeout", "30s", "--json"],
        "gorilla client": lambda server: [
            str(BUILD / "echoclient"), f"-url={server.url()}", "-mode=idle", f"-connections={count}",
            "-concurrency=64", f"-duration={hold}s"],
    }
    idle_runs(args, results, f"idle {count:,}", servers, clients, count)


def idle_deflate_benchmark(args, configs, results):
    """Idle memory after one compressed message per connection: what a browser's connection (which always
    offers permessage-deflate) keeps once it has used it. The Go client offers deflate without context
    takeover (all gorilla supports), so every server keeps the same kind of state; it sends one 200-byte
    chat-like message and reads its echo on each connection before they are held."""
    count = args.idle
    servers = {
        "wsgate": lambda port: [str(WSGATE), "serve", str(configs[0]), "--listen", f"127.0.0.1:{port}",
                                "--log-level", "warning"],
        "hummingbird": lambda port: [str(HUMMINGBIRD), str(port), "--deflate"],
        "gorilla": lambda port: [str(BUILD / "echoserver"), f"-addr=127.0.0.1:{port}", "-compress=true", "-level=6"],
        "node ws": lambda port: ["node", str(NODE / "echo.js"), str(port), "--deflate"],
    }
    hold = 120
    clients = {
        "gorilla client": lambda server: [
            str(BUILD / "echoclient"), f"-url={server.url()}", "-mode=idle", f"-connections={count}",
            "-concurrency=64", f"-duration={hold}s", "-compress", "-first", "-size=200"],
    }
    idle_runs(args, results, f"idle {count:,} after a deflate message", servers, clients, count)


def idle_runs(args, results, case, servers, clients, count):
    """Every client against every server, at most two runs each (memory barely varies), recorded as `case`."""
    runs = max(1, min(args.runs, 2))
    for run in range(runs):
        for client, client_command in clients.items():
            for server, server_command in servers.items():
                figures = idle_once(server_command, client_command, count)
                record(results, case, server, client, figures["kib_per_connection"], figures, "KiB per connection")
                log(f"run {run + 1} {case:18} {client:15} {server:12} {figures['kib_per_connection']:>8.1f} KiB "
                    f"per connection (RSS {figures['rss_before_kib'] / 1024:.1f} → "
                    f"{figures['rss_after_kib'] / 1024:.1f} MiB, connected in {figures['connect_seconds']:.1f} s)")


def idle_once(server_command, client_command, count):
    """The server's RSS before and while `count` connections are held open."""
    server = Server(server_command)
    try:
        # One connection first, so lazily made things (event loops, buffers) count in the baseline.
        warm = subprocess.run(
            [str(BUILD / "echoclient"), f"-url={server.url()}", "-mode=idle", "-connections=1", "-duration=0.3s"],
            capture_output=True, text=True, timeout=30)
        if warm.returncode != 0:
            raise RuntimeError(f"warm-up: {warm.stderr.strip()}")
        time.sleep(0.5)
        before = rss_kib(server.process.pid)
        started = time.monotonic()
        client = subprocess.Popen(
            client_command(server), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=raise_limits)
        # wsgate bench says "bench: holding N connections" on stderr; the Go client {"ready": N} on stdout.
        ready = wait_ready(client, deadline=time.monotonic() + 120)
        connect_seconds = time.monotonic() - started
        time.sleep(1.0)
        after = rss_kib(server.process.pid)
        client.terminate()
        client.communicate(timeout=60)
        return {
            "connections": ready, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_connection": (after - before) / max(1, ready), "connect_seconds": connect_seconds,
            "per_second": (after - before) / max(1, ready),
        }
    finally:
        server.stop()


def wait_ready(client, deadline):
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(client.stdout, selectors.EVENT_READ, "stdout")
    selector.register(client.stderr, selectors.EVENT_READ, "stderr")
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            line = key.fileobj.readline()
            if not line:
                selector.unregister(key.fileobj)
                continue
            match = re.search(r"holding (\d+) connections", line) or re.search(r'"ready":\s*(\d+)', line)
            if match:
                return int(match.group(1))
        if client.poll() is not None:
            raise RuntimeError(f"idle client exited early: {client.stderr.read()[-400:]}")
    raise RuntimeError("the idle client did not get its connections open in time")


# ---------------------------------------------------------------- summing up


def record(results, case, server, client, value, figures, unit):
    entry = results.setdefault(case, {"unit": unit, "runs": {}})
    entry["runs"].setdefault(server, {}).setdefault(client, []).append({"value": value, **figures})


def summarize(results):
    """Medians, spreads and ratios (wsgate / peer) per case and client."""
    summary = {}
    for case, entry in results.items():
        rows = {}
        for server, by_client in entry["runs"].items():
            for client, runs in by_client.items():
                values = [run["value"] for run in runs]
                cpu = [run["server_cpu_s"] for run in runs if run.get("server_cpu_s")]
                # Units of work (the rate times the client's own seconds) per second of server CPU.
                per_cpu = [
                    run["value"] * run["seconds"] / run["server_cpu_s"]
                    for run in runs if run.get("server_cpu_s") and run.get("seconds")
                ]
                rows.setdefault(server, {})[client] = {
                    "median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values),
                    "server_cpu_s": statistics.median(cpu) if cpu else None,
                    "per_cpu_second": statistics.median(per_cpu) if per_cpu else None,
                    **{
                        f"{which}_ms": statistics.median([latency(run, which) for run in runs])
                        if f"{which}_ms" in runs[0] or runs[0].get("latency") else None
                        for which in ("p50", "p99", "p999")
                    },
                }
        ratios = {}
        for server in rows:
            if server == "wsgate":
                continue
            for client in rows[server]:
                mine, theirs = rows["wsgate"][client]["median"], rows[server][client]["median"]
                if case.startswith("idle"):
                    ratios.setdefault(server, {})[client] = theirs / mine if mine else float("nan")
                else:
                    ratios.setdefault(server, {})[client] = mine / theirs if theirs else float("nan")
                mine_cpu, theirs_cpu = rows["wsgate"][client]["per_cpu_second"], rows[server][client]["per_cpu_second"]
                if mine_cpu and theirs_cpu:
                    ratios[server][client + " per CPU-s"] = mine_cpu / theirs_cpu
        summary[case] = {"unit": entry["unit"], "rows": rows, "ratios": ratios}
    return summary


def fmt(value, unit):
    if value is None:
        return "–"
    if "KiB" in unit:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def markdown(summary):
    lines = []
    for case, entry in summary.items():
        unit = entry["unit"]
        lines.append(f"### {case} ({unit}{', lower is better' if 'KiB' in unit else ''})\n")
        lines.append(
            f"| server | client | {unit}: median (min–max) | per server CPU-s | p50 ms | p99 ms | p99.9 ms |")
        lines.append("|---|---|---|---|---|---|---|")
        for server, by_client in entry["rows"].items():
            for client, row in by_client.items():
                p50, p99, p999 = (
                    f"{row[key]:.2f}" if row.get(key) is not None else "–" for key in ("p50_ms", "p99_ms", "p999_ms"))
                per_cpu = fmt(row["per_cpu_second"], unit) if "KiB" not in unit else "–"
                lines.append(
                    f"| {server} | {client} | {fmt(row['median'], unit)} ({fmt(row['min'], unit)}–"
                    f"{fmt(row['max'], unit)}) | {per_cpu} | {p50} | {p99} | {p999} |")
        for server, by_client in entry["ratios"].items():
            parts = ", ".join(f"{value:.2f}× ({client})" for client, value in by_client.items())
            if "KiB" in unit:
                lines.append(f"\n{server}'s memory per connection / wsgate's: {parts}")
            else:
                lines.append(f"\nwsgate / {server}: {parts}")
        lines.append("")
    return "\n".join(lines)


def machine():
    cpu = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    return {
        "cores": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
        "swift": next((line for line in swift if "Swift version" in line), "?"), "go": go,
        "websocketd": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "websocketd"], capture_output=True,
                                     text=True).stdout,
        "gorilla": subprocess.run(["dpkg-query", "-W", "-f=${Version}", "golang-github-gorilla-websocket-dev"],
                                  capture_output=True, text=True).stdout,
    }


def other_builds():
    """Other heavy processes (a Swift build or test run) that would share the 2 cores."""
    out = subprocess.run(["pgrep", "-fa", "swift-build|swift-test|xctest|swiftc|kosoku|autobahn|pytest"],
                         capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if str(os.getpid()) not in line]


class BusyWatch:
    """Polls for other heavy processes (builds, test runs) every few seconds while the benchmarks run."""

    def __init__(self):
        import threading

        self.seen = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopped.wait(3):
            for line in other_builds():
                self.seen.setdefault(line, time.strftime("%H:%M:%S"))

    def stop(self):
        self.stopped.set()
        self.thread.join()
        return [f"{first_seen} {line}" for line, first_seen in self.seen.items()]


def plot(summary, out):
    python = ROOT / ".venv-bench" / "bin" / "python"
    if not python.exists():
        log("making .venv-bench with matplotlib")
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / ".venv-bench")], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "matplotlib"], check=True)
    subprocess.run([str(python), str(ROOT / "Benchmarks" / "plot.py"), str(out / "results.json"), str(out)], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short run of each: a smoke check")
    parser.add_argument("--runs", type=int, help="runs of each server × client (default 3, --quick 1)")
    parser.add_argument("--only", default="echo,broadcast,relay,idle,idle-deflate",
                        help="comma-separated: echo (all four) or echo-64, echo-16k, echo-64-deflate, "
                             "echo-16k-deflate; broadcast, relay, idle, idle-deflate. Replaces those in --out's "
                             "results.json")
    parser.add_argument("--require-quiet", action="store_true",
                        help="exit 3 without writing when a build or test run shared the machine")
    parser.add_argument("--connections", type=int, default=16, help="echo connections")
    parser.add_argument("--in-flight", type=int, default=8, help="echo messages in flight per connection")
    parser.add_argument("--idle", type=int, help="idle connections (default 10000, --quick 1000)")
    parser.add_argument("--client-threads", type=int, default=1,
                        help="wsgate bench --threads (1: the client takes at most one of the cores)")
    parser.add_argument("--out", default=str(RESULTS), help="where results.json, results.md and the plots go")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as they are")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.pieces = []
    for piece in args.only.split(","):
        args.pieces += list(ECHO_CASES) if piece == "echo" else [piece]
    if unknown := set(args.pieces) - set(PIECES):
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}; choose from echo, {', '.join(PIECES)}")
    args.idle = args.idle or (1000 if args.quick else 10000)
    raise_limits()
    if not args.no_build:
        build_all()
    busy = other_builds()
    if busy:
        log("warning: other heavy processes share the machine:\n  " + "\n  ".join(busy))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    configs = write_configs(pathlib.Path(tempfile.mkdtemp()))
    results = {}
    started = time.time()
    load_before = os.getloadavg()
    watch = BusyWatch()
    if any(piece.startswith("echo") for piece in args.pieces):
        echo_benchmark(args, configs, results)
    for name, benchmark in [("broadcast", broadcast_benchmark), ("relay", relay_benchmark), ("idle", idle_benchmark),
                            ("idle-deflate", idle_deflate_benchmark)]:
        if name in args.pieces:
            benchmark(args, configs, results)
    busy_during = watch.stop()
    if busy_during:
        log("warning: heavy processes ran during the benchmarks:\n  " + "\n  ".join(busy_during))
    for entry in results.values():
        entry["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
        entry["other_heavy_processes"] = busy + busy_during
    if args.require_quiet and (busy or busy_during):
        log("other heavy processes ran: results not kept (--require-quiet)")
        sys.exit(3)
    previous = out / "results.json"
    if set(args.pieces) != set(PIECES) and previous.exists():
        # A partial run replaces its own benchmarks in the last results and keeps the others.
        kept = json.loads(previous.read_text())
        for case, entry in kept["results"].items():
            if piece_of(case) not in args.pieces:
                results[case] = entry
        log(f"kept the other benchmarks' results from {previous}")
    order = {piece: index for index, piece in enumerate(PIECES)}
    results = dict(sorted(results.items(), key=lambda item: order[piece_of(item[0])]))
    summary = summarize(results)
    report = {
        "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "seconds": time.time() - started, "load_before": load_before, "load_after": os.getloadavg(),
        "other_heavy_processes": busy + busy_during, "arguments": vars(args), "summary": summary,
        "results": results,
    }
    (out / "results.json").write_text(json.dumps(report, indent=1))
    table = markdown(summary)
    (out / "results.md").write_text(table)
    print(table)
    print(f"\n{report['seconds']:.0f} s; load average before {load_before[0]:.2f}, after {report['load_after'][0]:.2f}; "
          f"{len(report['other_heavy_processes'])} other heavy processes seen")
    if not args.no_plot:
        plot(summary, out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Rooms across instances: one room, members spread over wsgate instances sharing it through Redis,
against the same members on one instance without a broker.

Each run starts a redis-server (for the broker runs) and the instances, connects the members (round
robin over the instances) with Python's `websockets`, and has one member publish messages with a
window in flight. Every message carries its send time, so each delivery gives a latency. The table
shows deliveries per second, latency percentiles and the CPU time of wsgate and Redis.

    Benchmarks/instances.py [--instances 2] [--members 100] [--messages 1000] [--size 64] [--window 16]
    Benchmarks/instances.py --binary .build/debug/wsgate --messages 200     # a quick look
    Benchmarks/instances.py --client bench --members 1000 --messages 2000 --window 32
    Benchmarks/instances.py --redis-benchmark                                # Redis's PUBLISH rate

With `--client bench` the members are `wsgate bench --mode broadcast` connections (Swift, NIO): one
process, the publisher on the first instance, the others spread round robin over the instances with
`--also`; each delivery is timed from the send time in the message (one clock: one process). Its
setups are one instance without a broker against the instances through Redis. `--redis-benchmark`
adds `redis-benchmark -t publish` against a fresh redis-server: the PUBLISH ceiling on this machine.

Needs redis-server (scripts/setup-test-tools installs it) and a release build of wsgate (built when
missing, unless --binary names one). The client is Python: with many members it, not wsgate, is the
bottleneck, so compare the rows with each other, not with Benchmarks/broadcast.py.
"""
import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import cpu_seconds, free_port, release_wsgate, wait_for_port

CONFIG = """version: 1
{broker}
defaults: {{ ping_period: 0 }}
endpoints:
  - {{ path: /room, type: broadcast, welcome: null, format: "{{message}}", max_queue: 16MiB }}
"""


def start_redis(directory):
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not binary:
        raise SystemExit("redis-server is not installed: run scripts/setup-test-tools (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, port


def raise_limits():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))


def start_wsgate(binary, config):
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "serve", config, "--listen", f"127.0.0.1:{port}", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=raise_limits,
    )
    wait_for_port(port)
    return process, port


async def load(ports, args):
    from websockets.asyncio.client import connect

    members = [await connect(f"ws://127.0.0.1:{ports[index % len(ports)]}/room", max_size=None, max_queue=None)
               for index in range(args.members)]
    # Every member has joined once a probe from the publisher reached all of them.
    publisher = members[0]
    await publisher.send("probe")
    for member in members:
        await asyncio.wait_for(member.recv(), 30)
    padding = "x" * max(args.size - 20, 0)
    latencies = []
    window = asyncio.Semaphore(args.window)

    async def reader(member, first):
        for _ in range(args.messages):
            message = await asyncio.wait_for(member.recv(), 60)
            sent = float(message.split(" ", 1)[0])
            latencies.append(time.perf_counter() - sent)
            if first:
                window.release()

    started = time.perf_counter()
    readers = [asyncio.create_task(reader(member, index == 0)) for index, member in enumerate(members)]
    for _ in range(args.messages):
        await window.acquire()
        await publisher.send(f"{time.perf_counter():.6f} {padding}")
    await asyncio.gather(*readers)
    elapsed = time.perf_counter() - started
    for member in members:
        await member.close()
    latencies.sort()

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000

    return {
        "deliveries": len(latencies),
        "seconds": elapsed,
        "deliveries_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "p999_ms": percentile(0.999),
        "max_ms": latencies[-1] * 1000,
    }


def bench(binary, ports, args):
    """`wsgate bench --mode broadcast` with its members spread over the instances (`--also`)."""
    urls = [f"ws://127.0.0.1:{port}/room" for port in ports]
    also = [option for url in urls[1:] for option in ("--also", url)]
    result = subprocess.run(
        [str(binary), "bench", urls[0], *also, "--mode", "broadcast", "--connections", str(args.members),
         "--messages", str(args.messages), "--size", str(args.size), "--in-flight", str(args.window),
         "--duration", "120s", "--timeout", "30s", "--json"],
        capture_output=True, text=True, timeout=300, preexec_fn=raise_limits,
    )
    if result.returncode != 0:
        raise SystemExit(f"wsgate bench failed: {result.stderr.strip()} {result.stdout.strip()}")
    report = json.loads(result.stdout)
    return {
        "deliveries": report["count"],
        "seconds": report["seconds"],
        "deliveries_per_s": report["per_second"],
        "p50_ms": report["latency"]["p50_ms"],
        "p99_ms": report["latency"]["p99_ms"],
        "p999_ms": report["latency"]["p999_ms"],
        "max_ms": report["latency"]["max_ms"],
    }


def redis_benchmark(args):
    """`redis-benchmark … PUBLISH` against a fresh redis-server with two subscribers (as two instances):
    PUBLISH requests per second. (redis-benchmark 7.0 has no `-t publish` test; the command is named.)"""
    binary = shutil.which("redis-benchmark")
    if not binary:
        raise SystemExit("redis-benchmark is not installed (Debian's redis-tools)")
    directory = tempfile.mkdtemp(prefix="wsgate-bench-redis-")
    redis, port = start_redis(directory)
    cli = shutil.which("redis-cli") or "redis-cli"
    subscribers = [subprocess.Popen([cli, "-p", str(port), "SUBSCRIBE", "bench:room"], stdout=subprocess.DEVNULL)
                   for _ in range(2)]
    try:
        time.sleep(0.5)
        payload = "x" * args.size
        rows = {}
        for label, extra in (("50 clients, 1 at a time", []), ("50 clients, 16 pipelined", ["-P", "16"])):
            command = [binary, "-p", str(port), "-n", "200000", "-q", *extra, "PUBLISH", "bench:room", payload]
            output = subprocess.run(command, capture_output=True, text=True, timeout=300).stdout
            rows[label] = output.replace("\r", "\n").strip().splitlines()[-1].split(": ", 1)[-1].strip()
            print(f"{label}: {rows[label]}")
        return rows
    finally:
        for subscriber in subscribers:
            subscriber.terminate()
            subscriber.wait(timeout=20)
        redis.terminate()
        redis.wait(timeout=20)
        shutil.rmtree(directory, ignore_errors=True)


def run(binary, args, instances, broker):
    directory = tempfile.mkdtemp(prefix="wsgate-bench-instances-")
    processes = []
    try:
        redis_pid = None
        broker_section = ""
        if broker:
            redis, redis_port = start_redis(directory)
            processes.append(redis)
            redis_pid = redis.pid
            broker_section = f"broker: {{ url: 'redis://127.0.0.1:{redis_port}', prefix: bench }}"
        config = os.path.join(directory, "wsgate.yaml")
        with open(config, "w") as file:
            file.write(CONFIG.format(broker=broker_section))
        ports = []
        for _ in range(instances):
            process, port = start_wsgate(binary, config)
            processes.append(process)
            ports.append(port)
        pids = [process.pid for process in processes[1 if broker else 0:]]
        before = [cpu_seconds(pid) for pid in pids]
        redis_before = cpu_seconds(redis_pid) if redis_pid else 0
        if args.client == "bench":
            figures = bench(binary, ports, args)
        else:
            figures = asyncio.run(asyncio.wait_for(load(ports, args), 600))
        figures["wsgate_cpu_s"] = sum(cpu_seconds(pid) for pid in pids) - sum(before)
        figures["redis_cpu_s"] = (cpu_seconds(redis_pid) - redis_before) if redis_pid else 0
        return figures
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=20)
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--binary", help="a wsgate binary (default: the release build, built when missing)")
    parser.add_argument("--client", choices=["python", "bench"], default="python",
                        help="the members: Python websockets (default) or wsgate bench --mode broadcast")
    parser.add_argument("--redis-benchmark", action="store_true",
                        help="only run redis-benchmark -t publish (the PUBLISH ceiling)")
    parser.add_argument("--json", help="also write the raw runs to this file")
    args = parser.parse_args()
    raise_limits()
    if args.redis_benchmark:
        redis_benchmark(args)
        return
    binary = args.binary or release_wsgate()
    setups = [("1 instance, no broker", 1, False), ("1 instance, broker", 1, True),
              (f"{args.instances} instances, broker", args.instances, True)]
    if args.client == "bench":
        setups = [setups[0], setups[2]]
    results = {name: [run(binary, args, instances, broker) for _ in range(args.runs)]
               for name, instances, broker in setups}
    print(f"{args.members} members ({args.client}), {args.messages} messages of {args.size} B, "
          f"window {args.window}, median of {args.runs}")
    print("| setup | deliveries/s | p50 ms | p99 ms | p99.9 ms | wsgate CPU s | Redis CPU s |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        def median(key):
            return statistics.median(run[key] for run in runs)
        print(f"| {name} | {median('deliveries_per_s'):,.0f} | {median('p50_ms'):.1f} | {median('p99_ms'):.1f} "
              f"| {median('p999_ms'):.1f} | {median('wsgate_cpu_s'):.2f} | {median('redis_cpu_s'):.2f} |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    sys.exit(main())

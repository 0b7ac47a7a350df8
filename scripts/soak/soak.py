"""Churn against a real `wsgate serve` for a fixed time, sampling its resources; fails on growth.

Workers, each in a loop until the deadline (all bounded, all on 127.0.0.1):
  - connect/disconnect: open an echo, room or process session, exchange a few messages, close
    (some with a close frame, some by dropping the TCP connection);
  - bad frames: unmasked frames, reserved opcodes, invalid UTF-8, oversized claims (8 GiB, 2^63-1),
    truncated headers, garbage instead of a handshake;
  - slow readers: room members that never read while others publish (drop and close policies);
  - process endpoints: per-connection `cat` and a short script, and the shared `cat`;
  - a SIGHUP reload every `--reload-every` seconds (alternating two configurations).
Every `--sample-every` seconds it records RSS, open descriptors, threads and child processes of the
gateway. After a warm-up (the first fifth of the run) the mean of the last fifth of the samples must
not exceed that of the second fifth by more than the allowed growth; otherwise it exits 1.
"""
import argparse
import asyncio
import json
import os
import pathlib
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
from rawws import HANDSHAKE, RawClient, frame  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample(pid: int) -> dict:
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    fields = {line.split(":")[0]: line.split(":")[1].strip() for line in status.splitlines() if ":" in line}
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return {
        "t": time.monotonic(),
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": int(fields["Threads"]),
        "children": len(children),
    }


class Counters:
    def __init__(self):
        self.values = {}

    def add(self, name, n=1):
        self.values[name] = self.values.get(name, 0) + n


async def churn(port, deadline, counters):
    paths = ["/echo", "/rooms/a", "/rooms/b", "/cat", "/count", "/shared", "/strict/c"]
    while time.monotonic() < deadline:
        path = random.choice(paths)
        try:
            async with asyncio.timeout(10):
                ws = await connect(f"ws://127.0.0.1:{port}{path}", max_size=1 << 20)
                for n in range(random.randint(0, 5)):
                    await ws.send(f"message {n} " + "x" * random.randint(0, 2000))
                    if path in ("/echo", "/cat"):
                        await ws.recv()
                if random.random() < 0.3:
                    ws.transport.abort()  # drop without a close frame
                else:
                    await ws.close()
            counters.add("sessions")
        except Exception as error:  # a refused or cut session is counted, not fatal
            counters.add("session_errors")
            counters.add(f"error:{path}:{type(error).__name__}")


BAD_INPUTS = [
    lambda: frame(0x1, b"hello", masked=False),  # unmasked client frame
    lambda: frame(0x3, b"reserved opcode"),
    lambda: frame(0x1, b"\xff\xfe invalid utf-8"),
    lambda: bytes([0x82, 0xFF]) + struct.pack(">Q", 8 << 30) + os.urandom(4) + b"8 GiB claim",
    lambda: bytes([0x82, 0xFF]) + struct.pack(">Q", (1 << 63) - 1) + os.urandom(4),
    lambda: frame(0x2, b"z" * 70000),  # over max_frame_size
    lambda: frame(0x9, b"p" * 100) + bytes([0x89, 0xFE]),  # truncated control frame header
    lambda: frame(0x8, b"\x03"),  # one-byte close payload
    lambda: frame(0x1, b"part", fin=False) + frame(0x1, b"again"),
    lambda: os.urandom(random.randint(1, 300)),
]


async def bad_frames(port, deadline, counters):
    while time.monotonic() < deadline:
        try:
            async with asyncio.timeout(10):
                if random.random() < 0.15:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(os.urandom(random.randint(1, 2000)) + b"\r\n\r\n")
                    await writer.drain()
                    await reader.read()
                    writer.close()
                    counters.add("bad_handshakes")
                    continue
                raw = await RawClient.open(port, random.choice(["/echo", "/rooms/bad", "/cat"]))
                raw.send(random.choice(BAD_INPUTS)())
                await raw.writer.drain()
                await asyncio.wait_for(raw.reader.read(), timeout=5)
                raw.close()
                counters.add("bad_frames")
        except Exception:
            counters.add("bad_frame_errors")


async def slow_readers(port, deadline, counters):
    while time.monotonic() < deadline:
        room = random.choice(["/rooms/slow", "/strict/slow"])
        try:
            async with asyncio.timeout(20):
                readers = []
                for _ in range(3):
                    raw = await RawClient.open(port, room)  # never reads what the room sends
                    readers.append(raw)
                async with connect(f"ws://127.0.0.1:{port}{room}") as publisher:
                    for _ in range(200):
                        await publisher.send("y" * 4096)
                for raw in readers:
                    raw.close()
                counters.add("slow_rounds")
        except Exception:
            counters.add("slow_errors")
        await asyncio.sleep(0.5)


async def reloads(config_paths, pid, deadline, every, counters):
    index = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(every)
        if time.monotonic() >= deadline:
            break
        index += 1
        shutil.copyfile(config_paths[index % 2], config_paths[2])
        os.kill(pid, signal.SIGHUP)
        counters.add("reloads")


async def sampler(pid, deadline, every, samples):
    while time.monotonic() < deadline:
        samples.append(sample(pid))
        await asyncio.sleep(every)
    samples.append(sample(pid))


def mean(values):
    return sum(values) / max(1, len(values))


def verdict(samples, args):
    """Compares the second fifth (after warm-up) with the last fifth of the run."""
    n = len(samples)
    fifth = max(1, n // 5)
    early, late = samples[fifth:2 * fifth], samples[-fifth:]
    problems = []
    rss_early, rss_late = mean([s["rss_kib"] for s in early]), mean([s["rss_kib"] for s in late])
    if rss_late > rss_early * (1 + args.rss_growth) + 4096:
        problems.append(f"RSS grew from {rss_early / 1024:.1f} MiB to {rss_late / 1024:.1f} MiB")
    for key, slack in (("fds", args.fd_slack), ("threads", 2), ("children", args.children_slack)):
        a, b = mean([s[key] for s in early]), mean([s[key] for s in late])
        if b > a + slack:
            problems.append(f"{key} grew from {a:.1f} to {b:.1f}")
    return problems


async def main_async(args, gateway, port, configs):
    counters = Counters()
    samples = []
    deadline = time.monotonic() + args.seconds
    tasks = [sampler(gateway.pid, deadline, args.sample_every, samples)]
    tasks += [churn(port, deadline, counters) for _ in range(args.churners)]
    tasks += [bad_frames(port, deadline, counters) for _ in range(2)]
    tasks += [slow_readers(port, deadline, counters)]
    tasks += [reloads(configs, gateway.pid, deadline, args.reload_every, counters)]
    await asyncio.gather(*tasks)
    await asyncio.sleep(3)  # sessions from the last moments close
    samples.append(sample(gateway.pid))
    return counters, samples


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--sample-every", type=float, default=10)
    parser.add_argument("--reload-every", type=float, default=60)
    parser.add_argument("--churners", type=int, default=8)
    parser.add_argument("--rss-growth", type=float, default=0.10, help="allowed RSS growth (fraction)")
    parser.add_argument("--fd-slack", type=float, default=30)
    parser.add_argument("--children-slack", type=float, default=10)
    parser.add_argument("--binary", default=os.environ.get("WSGATE_BIN", str(ROOT / ".build/release/wsgate")))
    parser.add_argument("--report", default=str(ROOT / "artifacts" / "soak.json"))
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="wsgate-soak-"))
    base = (ROOT / "scripts" / "soak" / "soak.yaml").read_text()
    other = base.replace("history: 10", "history: 20")  # a changed room: reload closes it with 1001
    configs = [work / "a.yaml", work / "b.yaml", work / "serve.yaml"]
    configs[0].write_text(base)
    configs[1].write_text(other)
    shutil.copyfile(configs[0], configs[2])
    port = free_port()
    log = open(work / "wsgate.log", "w")
    gateway = subprocess.Popen(
        [args.binary, "serve", str(configs[2]), "--listen", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        counters, samples = asyncio.run(main_async(args, gateway, port, configs))
        alive = gateway.poll() is None
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()
    problems = verdict(samples, args) if alive else ["the gateway died during the soak"]
    first, last = samples[0], samples[-1]
    report = {
        "seconds": args.seconds, "counters": counters.values, "start": first, "end": last,
        "samples": samples, "problems": problems, "exit_status": gateway.returncode,
    }
    pathlib.Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.report).write_text(json.dumps(report, indent=1))
    print(f"soak: {args.seconds:.0f} s, " + ", ".join(f"{k} {v}" for k, v in sorted(counters.values.items())))
    for label, s in (("start", first), ("end", last)):
        print(f"soak: {label}: RSS {s['rss_kib'] / 1024:.1f} MiB, {s['fds']} descriptors, "
              f"{s['threads']} threads, {s['children']} child processes")
    print(f"soak: gateway exit status after SIGTERM: {gateway.returncode}; report: {args.report}; "
          f"log: {work / 'wsgate.log'}")
    if problems or gateway.returncode != 0:
        for problem in problems:
            print(f"soak: FAIL: {problem}")
        sys.exit(1)
    print("soak: PASS (flat)")


if __name__ == "__main__":
    main()

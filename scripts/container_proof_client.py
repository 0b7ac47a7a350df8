#!/usr/bin/env python3
"""The WebSocket side of scripts/container-proof (run with .venv-test's python).

    container_proof_client.py wait URL [--timeout S]
        Exit 0 once URL's host:port accepts TCP connections.
    container_proof_client.py echo URL
        Ktor's echo conversation: greeting "Please enter your name", send
        "JetBrains", expect "Hi, JetBrains!", send "bye", expect close 1000.
    container_proof_client.py drain URL --pid PID [--grace S]
        Open a session, read the greeting, send SIGTERM to PID and expect the
        server to close the session with 1001 (Going Away) within S seconds.

Prints one PASS or FAIL line per check; exit status 0 when all passed, 1 when
one failed, 3 when `drain` failed before it could send the signal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import time
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

failures = 0
signalled = False


def check(ok: bool, what: str) -> None:
    global failures
    print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
    if not ok:
        failures += 1


def close_of(ws) -> tuple[int | None, str]:
    """The close code and reason the server sent (None when it sent no close frame)."""
    return ws.close_code, ws.close_reason or ""


async def echo(url: str) -> None:
    async with connect(url, open_timeout=5, close_timeout=5) as ws:
        greeting = await asyncio.wait_for(ws.recv(), 5)
        check(greeting == "Please enter your name", f"echo: greeting {greeting!r}")
        await ws.send("JetBrains")
        reply = await asyncio.wait_for(ws.recv(), 5)
        check(reply == "Hi, JetBrains!", f"echo: sent 'JetBrains', got {reply!r}")
        await ws.send("bye")
        try:
            extra = await asyncio.wait_for(ws.recv(), 5)
            check(False, f"echo: expected a close after 'bye', got {extra!r}")
        except ConnectionClosed:
            code, reason = close_of(ws)
            check(code == 1000 and reason == "Client said BYE", f"echo: sent 'bye', closed with {code} {reason!r}")


async def drain(url: str, pid: int, grace: float) -> None:
    async with connect(url, open_timeout=5, close_timeout=5) as ws:
        greeting = await asyncio.wait_for(ws.recv(), 5)
        check(greeting == "Please enter your name", f"drain: session open, greeting {greeting!r}")
        global signalled
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        signalled = True
        try:
            extra = await asyncio.wait_for(ws.recv(), grace)
            check(False, f"drain: expected a close after SIGTERM, got {extra!r}")
        except ConnectionClosed:
            code, reason = close_of(ws)
            took = time.monotonic() - started
            check(code == 1001, f"drain: SIGTERM to pid {pid} closed the open session with {code} {reason!r} after {took:.2f}s")
        except TimeoutError:
            check(False, f"drain: no close within {grace}s of SIGTERM")


def wait(url: str, timeout: float) -> None:
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    check(False, f"nothing accepted connections on {parts.hostname}:{parts.port} within {timeout}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["wait", "echo", "drain"])
    parser.add_argument("url")
    parser.add_argument("--pid", type=int)
    parser.add_argument("--grace", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=20.0)
    options = parser.parse_args()
    try:
        if options.action == "wait":
            wait(options.url, options.timeout)
        elif options.action == "echo":
            asyncio.run(echo(options.url))
        else:
            if options.pid is None:
                parser.error("drain needs --pid")
            asyncio.run(drain(options.url, options.pid, options.grace))
    except Exception as error:  # a refused upgrade, a reset: report it as the failed check
        check(False, f"{options.action}: {type(error).__name__}: {error}")
    if failures and options.action == "drain" and not signalled:
        return 3
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""Starts a real `wsgate serve` process on 127.0.0.1 for the end-to-end tests."""
import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def wsgate_binary() -> str:
    binary = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "release" / "wsgate"))
    if not os.path.exists(binary):
        pytest.fail(f"{binary} does not exist: build it first (swift build -c release) or set WSGATE_BIN")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, config: str, binary: str | None = None):
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary or wsgate_binary(), "serve", config, "--listen", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"wsgate exited early: {self.process.stdout.read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail("wsgate did not start listening within 20 s")

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def open_descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    async def descriptors_after_settling(self, baseline: int, seconds: float = 5) -> int:
        """The open descriptor count once it is back to `baseline`, or after `seconds`."""
        import asyncio

        deadline = time.monotonic() + seconds
        while self.open_descriptors() > baseline and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.open_descriptors()

    def resident_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.stdout.read() if self.process.stdout else ""


@pytest.fixture
def gateway_factory():
    started = []

    def start(config: str) -> Gateway:
        gateway = Gateway(config)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()

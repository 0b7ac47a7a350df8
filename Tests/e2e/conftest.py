"""Starts a real `wsgate serve` process on 127.0.0.1 for the end-to-end tests."""
import os
import pathlib
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def wsgate_binary() -> str:
    binary = os.environ.get("WSGATE_BIN", str(ROOT / ".build" / "release" / "wsgate"))
    if not os.path.exists(binary):
        pytest.fail(f"{binary} does not exist: build it first (swift build -c release) or set WSGATE_BIN")
    return binary


def throwaway_certificate(directory: pathlib.Path) -> pathlib.Path:
    """A self-signed certificate for localhost and 127.0.0.1 (tls.crt, key tls.key) in `directory`."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True,
    )
    return directory / "tls.crt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, config: str | None, binary: str | None = None, args: list[str] | None = None,
                 env: dict[str, str] | None = None, subcommand: list[str] | None = None,
                 cwd: str | os.PathLike | None = None):
        """`wsgate serve CONFIG`, or `wsgate SUBCOMMAND… --listen … ARGS…` (e.g. `relay`), in `cwd`
        (default: the repository)."""
        self.port = free_port()
        # Output goes to a file, not a pipe: a pipe nobody reads would block the gateway's logging.
        self.output = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [binary or wsgate_binary(), *(subcommand or ["serve", config]), "--listen", f"127.0.0.1:{self.port}",
             *(args or [])],
            cwd=cwd or ROOT,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"wsgate exited early: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail("wsgate did not start listening within 20 s")

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def http_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        """Everything the gateway printed so far (stdout and stderr)."""
        # A new open file description: its offset is its own, not the one the gateway writes at.
        with open(f"/proc/self/fd/{self.output.fileno()}", errors="replace") as reader:
            return reader.read()

    def open_descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    async def settled_descriptors(self, quiet: float = 0.3, seconds: float = 5) -> int:
        """The open descriptor count once it has not changed for `quiet` seconds (a baseline that the
        start-up probe connection, closing just now, cannot inflate)."""
        import asyncio

        deadline = time.monotonic() + seconds
        count, since = self.open_descriptors(), time.monotonic()
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = self.open_descriptors()
            if now != count:
                count, since = now, time.monotonic()
        return count

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
        return self.log()


@pytest.fixture
def gateway_factory():
    started = []

    def start(config: str, **options) -> Gateway:
        gateway = Gateway(config, **options)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()

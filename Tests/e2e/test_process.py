"""type: process with real processes, on websocketd's contract."""
import asyncio
import os
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from conftest import Gateway
from rawws import RawClient


def run(coroutine, timeout=60):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout))


@pytest.fixture
def gateway(tmp_path, monkeypatch):
    monkeypatch.setenv("WSGATE_E2E_PASSED", "passed-through")
    monkeypatch.setenv("WSGATE_E2E_NOT_PASSED", "must-not-appear")
    monkeypatch.setenv("WSGATE_E2E_MARK", str(tmp_path / "mark"))
    started = Gateway("Tests/e2e/processes.yaml")
    yield started
    started.stop()


def children(pid):
    """Processes whose parent is `pid` (zombies included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append((int(entry), fields[0]))
    return found


def alive(pid):
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def receive_all(ws):
    messages = []
    try:
        while True:
            messages.append(await ws.recv())
    except ConnectionClosed as closed:
        return messages, closed.rcvd


def test_text_mode_ten_thousand_lines_in_order(gateway):
    async def scenario():
        async with connect(gateway.url("/cat"), max_size=None) as ws:
            for i in range(10_000):
                await ws.send(f"line {i}")
            for i in range(10_000):
                assert await ws.recv() == f"line {i}"
            await ws.send("two\nlines")
            assert [await ws.recv(), await ws.recv()] == ["two", "lines"]

    run(scenario())


def test_binary_mode_passes_bytes_both_ways(gateway):
    async def scenario():
        async with connect(gateway.url("/bin"), max_size=None) as ws:
            payload = bytes(range(256)) * 64
            await ws.send(payload)
            received = b""
            while len(received) < len(payload):
                chunk = await ws.recv()
                assert isinstance(chunk, bytes)
                received += chunk
            assert received == payload
            await ws.send("text is written as bytes")
            assert await ws.recv() == b"text is written as bytes"

    run(scenario())


def test_environment_is_exactly_cgi_variables_env_and_pass_env(gateway):
    async def scenario():
        async with connect(gateway.url("/env?room=7"), additional_headers={"X-Request-Id": "abc"}) as ws:
            lines, closed = await receive_all(ws)
        assert closed.code == 1000
        variables = dict(line.split("=", 1) for line in lines)
        assert variables["QUERY_STRING"] == "room=7"
        assert variables["REQUEST_URI"] == "/env?room=7"
        assert variables["PATH_INFO"] == "/env"
        assert variables["REMOTE_ADDR"] == "127.0.0.1"
        assert variables["SERVER_PORT"] == str(gateway.port)
        assert variables["HTTP_X_REQUEST_ID"] == "abc"
        assert variables["EXTRA"] == "one"
        assert variables["WSGATE_E2E_PASSED"] == "passed-through"
        assert "WSGATE_E2E_NOT_PASSED" not in variables
        assert "HOME" not in variables and "PATH" not in variables
        allowed = {
            "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "REQUEST_METHOD", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT",
            "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT", "EXTRA",
            "WSGATE_E2E_PASSED",
        }
        assert {k for k in variables if not k.startswith("HTTP_")} <= allowed

    run(scenario())


def test_proxy_header_never_becomes_HTTP_PROXY_httpoxy(gateway):
    """CVE-2016-5385: a client's `Proxy:` header must not set the child's HTTP_PROXY, and a header
    spelled with underscores must not pose as another one (X_Real_IP as X-Real-IP)."""
    async def scenario():
        headers = {"Proxy": "http://evil.example:1", "X_Real_IP": "6.6.6.6", "X-Real-IP": "10.1.2.3"}
        async with connect(gateway.url("/env"), additional_headers=headers) as ws:
            lines, closed = await receive_all(ws)
        assert closed.code == 1000
        variables = dict(line.split("=", 1) for line in lines)
        assert "HTTP_PROXY" not in variables
        assert not any("evil.example" in value for value in variables.values())
        assert variables["HTTP_X_REAL_IP"] == "10.1.2.3"

    run(scenario())


def test_exit_codes_close_1000_or_1011_after_the_rest_of_the_output(gateway):
    async def scenario():
        async with connect(gateway.url("/exit")) as ws:
            lines, closed = await receive_all(ws)
        assert lines == ["partial", "no newline"]
        assert (closed.code, closed.reason) == (1011, "process exited with status 3")
        async with connect(gateway.url("/ok")) as ws:
            lines, closed = await receive_all(ws)
        assert lines == ["done"] and closed.code == 1000
        async with connect(gateway.url("/count")) as ws:
            lines, closed = await receive_all(ws)
        assert lines == ["1", "2", "3"] and closed.code == 1000

    run(scenario())


def test_client_close_gives_the_process_eof(gateway, tmp_path):
    async def scenario():
        async with connect(gateway.url("/eof")) as ws:
            await ws.send("some input")
        deadline = time.monotonic() + 10
        while not (tmp_path / "mark").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert (tmp_path / "mark").read_text() == "eof\n"

    run(scenario())


def test_stubborn_process_gets_sigterm_then_sigkill_with_its_children(gateway):
    async def scenario():
        async with connect(gateway.url("/stubborn")) as ws:
            shell = int(await ws.recv())
            grandchild = int(await ws.recv())
            assert alive(shell) and alive(grandchild)
        deadline = time.monotonic() + 10
        while (alive(shell) or alive(grandchild)) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not alive(shell) and not alive(grandchild)

    run(scenario())


def test_max_processes_and_missing_commands_get_http_errors(gateway):
    async def scenario():
        async with connect(gateway.url("/one")) as first:
            await first.send("x")
            assert await first.recv() == "x"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(gateway.url("/one")):
                    pass
            assert refused.value.response.status_code == 503
        for _ in range(100):  # the slot frees once the process is gone
            try:
                async with connect(gateway.url("/one")) as again:
                    await again.send("y")
                    assert await again.recv() == "y"
                break
            except InvalidStatus:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the slot never came back")
        with pytest.raises(InvalidStatus) as missing:
            async with connect(gateway.url("/missing")):
                pass
        assert missing.value.response.status_code == 502

    run(scenario())


def test_process_that_never_reads_stops_the_socket_and_a_flood_is_bounded(gateway):
    async def scenario():
        deaf = await RawClient.open(gateway.port, path="/deaf")
        before = gateway.resident_mib()
        written = await deaf.mebibytes_written_until_stalled()
        assert written < 256, "wsgate kept reading for a process that never reads"
        deaf.writer.transport.abort()

        flood = await RawClient.open(gateway.port, path="/flood")
        await asyncio.sleep(2)  # `yes` writes as fast as it can; this client reads nothing
        grown = gateway.resident_mib() - before
        assert grown < 64, f"wsgate grew {grown:.0f} MiB"
        flood.writer.transport.abort()

    run(scenario())


def threads(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def test_ten_thousand_sessions_leave_no_processes_zombies_threads_or_descriptors(gateway):
    async def cycle(i):
        async with connect(gateway.url("/cat")) as ws:
            await ws.send(str(i))
            assert await ws.recv() == str(i)

    async def scenario():
        # The first process starts the reaper (its thread, epoll set and wake-up descriptor), once:
        # measure after it.
        await cycle(-1)
        await asyncio.sleep(0.5)
        baseline = gateway.open_descriptors()
        baseline_threads = threads(gateway.process.pid)
        sessions = iter(range(10_000))

        async def worker():
            for i in sessions:
                await cycle(i)

        await asyncio.gather(*(worker() for _ in range(8)))
        deadline = time.monotonic() + 10
        while (children(gateway.process.pid) or gateway.open_descriptors() > baseline) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert children(gateway.process.pid) == []
        assert gateway.open_descriptors() == baseline
        assert threads(gateway.process.pid) <= baseline_threads

    run(scenario(), timeout=300)


def test_process_example(gateway_factory):
    example = gateway_factory("examples/process.yaml")

    async def scenario():
        async with connect(example.url("/count")) as ws:
            lines, closed = await receive_all(ws)
        assert lines == [str(i) for i in range(1, 11)] and closed.code == 1000
        async with connect(example.url("/greet")) as ws:
            await ws.send("Ada")
            assert await ws.recv() == "hello, Ada (from 127.0.0.1)"

    run(scenario())


def test_shared_instance_output_goes_to_every_client(gateway_factory):
    gateway = gateway_factory("Tests/e2e/shared.yaml")

    async def scenario():
        async with connect(gateway.url("/shared")) as first, connect(gateway.url("/shared")) as second:
            # Wait until the second client is in the room: the first pings until the second hears it.
            for attempt in range(100):
                await first.send(f"sync {attempt}")
                try:
                    await asyncio.wait_for(second.recv(), timeout=0.2)
                    break
                except asyncio.TimeoutError:
                    continue

            async def line_ending(ws, suffix):
                while True:
                    line = await asyncio.wait_for(ws.recv(), timeout=10)
                    if line.endswith(suffix):
                        return line

            # Each connection has its own number in the input template; both clients get every line.
            await first.send("hello")
            from_first = await line_ending(first, " hello")
            assert from_first in ("got #0 hello", "got #1 hello")
            assert await line_ending(second, " hello") == from_first
            await second.send("hi")
            from_second = await line_ending(first, " hi")
            assert from_second in ("got #0 hi", "got #1 hi") and from_second[5] != from_first[5]
            assert await line_ending(second, " hi") == from_second
        # One process for everyone, started with the gateway: still there after the clients left.
        assert len(children(gateway.process.pid)) >= 1

    run(scenario())
    shared = [pid for pid, _ in children(gateway.process.pid)]
    assert gateway.stop() is not None and gateway.process.returncode == 0
    assert not any(alive(pid) for pid in shared), "shared processes outlived wsgate"


def test_shared_instance_is_restarted_when_it_exits(gateway_factory):
    gateway = gateway_factory("Tests/e2e/shared.yaml")

    async def scenario():
        async with connect(gateway.url("/flaky")) as ws:
            seen = 0
            deadline = time.monotonic() + 10
            while seen < 2 and time.monotonic() < deadline:
                if await asyncio.wait_for(ws.recv(), timeout=10) == "up":
                    seen += 1
            assert seen >= 2, "the shared process was not started again"

    run(scenario())


def metric(gateway, name: str, endpoint: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(gateway.http_url("/metrics"), timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and f'endpoint="{endpoint}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_shared_process_that_cannot_start_drops_messages_and_sessions_still_end(gateway_factory):
    gateway = gateway_factory("Tests/e2e/shared.yaml")

    async def scenario():
        ws = await connect(gateway.url("/nostart"))
        for n in range(3):
            await ws.send(f"message {n}")
        # The session is not stuck in the hand-off: the close handshake completes at once.
        started = time.monotonic()
        await asyncio.wait_for(ws.close(), timeout=5)
        assert ws.close_code == 1000 and time.monotonic() - started < 2
        deadline = time.monotonic() + 5
        while metric(gateway, "wsgate_process_input_dropped_total", "/nostart") < 3:
            assert time.monotonic() < deadline, gateway.log()
            await asyncio.sleep(0.1)

    run(scenario())
    assert "shared process is not running; message dropped" in gateway.log()


def test_drain_does_not_wait_for_a_shared_process_that_never_reads(gateway_factory):
    gateway = gateway_factory("Tests/e2e/shared.yaml")

    async def scenario():
        ws = await connect(gateway.url("/deafshared"), max_size=None)
        # Fill the pipe of a process that never reads: later messages wait in the hand-off.
        for _ in range(8):
            await ws.send("x" * 65536)
        await asyncio.sleep(0.3)
        started = time.monotonic()
        gateway.process.terminate()
        await asyncio.wait_for(ws.wait_closed(), timeout=8)
        assert ws.close_code == 1001
        return started

    started = run(scenario())
    gateway.process.wait(timeout=8)
    elapsed = time.monotonic() - started
    assert gateway.process.returncode == 0
    # shutdown_grace is 10 s; the session must not hold the drain for it.
    assert elapsed < 5, f"the drain took {elapsed:.1f} s"

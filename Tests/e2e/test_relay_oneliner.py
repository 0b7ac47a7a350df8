"""`wsgate relay -- COMMAND`: websocketd's one-liner, end to end, and its --print-config twin."""
import asyncio
import os
import signal
import stat
import subprocess

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import Gateway, wsgate_binary
from httpraw import HTTPConnection
from test_process import receive_all


def run(coroutine, timeout=30):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=timeout))


@pytest.fixture
def site(tmp_path):
    """A working folder with a script, a page in public/ and a secret beside it (and a link to it)."""
    script = tmp_path / "count.sh"
    script.write_text('#!/bin/sh\nfor i in $(seq 1 "$1"); do echo "line $i"; done\nexit "${2:-0}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("<h1>relay</h1>\n")
    (tmp_path / "secret.txt").write_text("top secret\n")
    os.symlink("../secret.txt", tmp_path / "public" / "link.txt")
    return tmp_path


def relay(site, *args):
    return Gateway(None, subcommand=["relay"], args=list(args), cwd=site)


def check_serves_like_websocketd(gateway):
    """The script's lines as messages and its exit status as the close code; the page on the same path;
    nothing outside public/."""

    async def scenario():
        async with connect(gateway.url("/")) as ws:
            messages, close = await receive_all(ws)
        assert messages == ["line 1", "line 2", "line 3"]
        assert close.code == 1000

    run(scenario())
    with HTTPConnection(gateway.port) as http:
        status, headers, body = http.request("/")
        assert (status, body) == (200, b"<h1>relay</h1>\n")
        assert headers["content-type"] == "text/html; charset=utf-8"
        for attack in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/link.txt",
                       "/%2e%2e%2fsecret.txt", "/public/../../secret.txt"]:
            status, _, body = http.request(attack)
            assert status in (400, 404), attack
            assert b"secret" not in body, attack


def test_relay_script_lines_page_and_traversal(site):
    gateway = relay(site, "--static-dir", "public", "--", "./count.sh", "3")
    try:
        check_serves_like_websocketd(gateway)
    finally:
        gateway.stop()


def test_relay_exit_status_maps_to_1011(site):
    gateway = relay(site, "--", "./count.sh", "1", "3")

    async def scenario():
        async with connect(gateway.url("/")) as ws:
            messages, close = await receive_all(ws)
        assert messages == ["line 1"]
        assert close.code == 1011
        assert close.reason == "process exited with status 3"

    try:
        run(scenario())
    finally:
        gateway.stop()


def test_relay_binary_mode_path_origin_and_max_processes(site):
    gateway = relay(site, "--path", "/cat", "--binary", "--max-processes", "1",
                    "--origin", "https://good.example", "--", "cat")

    async def scenario():
        async with connect(gateway.url("/cat"), origin="https://good.example") as ws:
            await ws.send(b"\x00\x01bytes")
            assert await ws.recv() == b"\x00\x01bytes"
            with pytest.raises(InvalidStatus) as busy:
                async with connect(gateway.url("/cat"), origin="https://good.example"):
                    pass
            assert busy.value.response.status_code == 503
        with pytest.raises(InvalidStatus) as refused:
            async with connect(gateway.url("/cat"), origin="https://evil.example"):
                pass
        assert refused.value.response.status_code == 403

    try:
        run(scenario())
    finally:
        gateway.stop()


def test_print_config_validates_and_serves_identically(site, tmp_path_factory):
    # --print-config goes after the other options; it prints and exits without listening.
    printed = subprocess.run(
        [wsgate_binary(), "relay", "--print-config", "--static-dir", "public", "--", "./count.sh", "3"],
        cwd=site, capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    assert "type: process" in printed and "type: static" in printed
    # Saved elsewhere, the file still names the same folders (they are absolute).
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "relay.yaml"
    elsewhere.write_text(printed)
    validated = subprocess.run([wsgate_binary(), "validate", str(elsewhere)], capture_output=True, text=True)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    gateway = Gateway(str(elsewhere))
    try:
        check_serves_like_websocketd(gateway)
    finally:
        gateway.stop()


def test_relay_usage_errors_and_help(site):
    def relay_run(*args):
        return subprocess.run([wsgate_binary(), "relay", *args], cwd=site, capture_output=True, text=True, timeout=30)

    missing = relay_run()
    assert missing.returncode == 64
    assert "give the program to run after '--'" in missing.stderr
    zero = relay_run("--max-processes", "0", "--", "cat")
    assert zero.returncode == 64 and "--max-processes must be between 1 and 100000" in zero.stderr
    # --help is help, never a command to run.
    shown = relay_run("--help")
    assert shown.returncode == 0 and "--static-dir" in shown.stdout


def test_relay_ignores_sighup_and_drains_on_sigterm_exiting_0(site):
    gateway = relay(site, "--", "cat")

    async def scenario():
        async with connect(gateway.url("/")) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            gateway.process.send_signal(signal.SIGHUP)  # no file to reload: it says so and serves on
            for _ in range(100):
                if "there is no file to reload" in gateway.log():
                    break
                await asyncio.sleep(0.05)
            assert "there is no file to reload" in gateway.log()
            await ws.send("still here")
            assert await ws.recv() == "still here"
            gateway.process.send_signal(signal.SIGTERM)
            _, close = await receive_all(ws)
            assert close.code == 1001

    try:
        run(scenario())
        assert gateway.process.wait(timeout=20) == 0
    finally:
        gateway.stop()

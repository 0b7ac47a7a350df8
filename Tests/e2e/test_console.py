"""The dev console: served over HTTP by `wsgate serve`, then driven in a headless Chromium.

Chromium runs with `--remote-debugging-port=0` and is driven over the Chrome DevTools Protocol
with the `websockets` client. The page takes its instructions from its query string
(`?connect=/echo&send=JetBrains`), so no clicks are needed. The screenshot of the conversation is
kept in `artifacts/console.png`.
"""
import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect

from conftest import ROOT

CONFIG = "Tests/e2e/console.yaml"
ARTIFACTS = ROOT / "artifacts"
WAIT = 15  # seconds for the page to reach an expected state
START = 20  # seconds for Chromium to open its DevTools port

# Every log line as data: its class, the text of its body, and the close code and reason if any.
READ_PAGE = """JSON.stringify({
  state: document.getElementById("state")?.textContent ?? null,
  lines: [...document.querySelectorAll("#log > li")].map((li) => ({
    kind: li.className,
    body: li.querySelector(".body")?.textContent ?? "",
    code: li.dataset.code ?? null,
    reason: li.dataset.reason ?? null,
  })),
})"""


def chromium_binary() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


class Browser:
    """One headless Chromium in its own process group and throwaway profile."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="wsgate-chromium-")
        # A file, not a pipe: nobody reads Chromium's chatter while it runs, and a full pipe would stall it.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--window-size=1280,800",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )
        self.port = self._devtools_port()

    def _devtools_port(self) -> int:
        active = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + START
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}: {self.output()}")
            try:
                with open(active) as file:
                    first = file.readline().strip()
                if first:
                    return int(first)
            except FileNotFoundError:
                pass
            time.sleep(0.05)
        output = self.output()
        self.stop()
        raise RuntimeError(f"chromium wrote no {active} within {START} s: {output}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def page_socket_url(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as response:
            targets = json.load(response)
        return next(target["webSocketDebuggerUrl"] for target in targets if target["type"] == "page")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class DevTools:
    """A Chrome DevTools Protocol session on one page: commands, and the events it keeps."""

    def __init__(self, socket):
        self.socket = socket
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for raw in self.socket:
            message = json.loads(raw)
            future = self.pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                future.set_result(message)
            elif "method" in message:
                self.events.append(message)

    async def call(self, method: str, **params) -> dict:
        number = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, timeout=WAIT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def read_page(self) -> dict:
        result = await self.call("Runtime.evaluate", expression=READ_PAGE, returnByValue=True)
        return json.loads(result["result"].get("value") or '{"state": null, "lines": []}')

    async def wait_for(self, what: str, predicate) -> dict:
        """The page once `predicate(page)` holds; fails after WAIT seconds with what the page showed."""
        deadline = time.monotonic() + WAIT
        page = {}
        while time.monotonic() < deadline:
            page = await self.read_page()
            if predicate(page):
                return page
            await asyncio.sleep(0.1)
        pytest.fail(f"the console did not show {what} within {WAIT} s; it showed {json.dumps(page, indent=1)}")

    def problems(self) -> list[str]:
        """Script exceptions and console or browser errors (CSP violations are reported as these)."""
        found = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                found.append(event["params"]["exceptionDetails"].get("text", "exception"))
            elif event["method"] == "Log.entryAdded" and event["params"]["entry"]["level"] == "error":
                found.append(event["params"]["entry"]["text"])
            elif event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] == "error":
                found.append(json.dumps(event["params"]["args"]))
        return found


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (scripts/setup-test-tools installs it with apt-get)")
        pytest.skip("chromium is not installed: run scripts/setup-test-tools or apt-get install chromium")
    started = Browser(binary)
    yield started
    started.stop()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


async def open_console(browser: Browser, url: str):
    """Yields a DevTools session whose page has navigated to `url`."""
    socket = await connect(browser.page_socket_url(), max_size=None, open_timeout=WAIT)
    devtools = DevTools(socket)
    await devtools.call("Runtime.enable")
    await devtools.call("Log.enable")
    await devtools.call("Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False)
    await devtools.call("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
    await devtools.call("Page.enable")
    await devtools.call("Page.navigate", url=url)
    return devtools


async def close_console(devtools: DevTools):
    devtools.reader.cancel()
    await devtools.socket.close()


def lines(page: dict, kind: str) -> list[str]:
    return [line["body"] for line in page["lines"] if line["kind"] == kind]


def test_console_is_served_over_http(gateway_factory):
    gateway = gateway_factory(CONFIG)
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/console", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        page = response.read().decode()
    assert page.startswith("<!doctype html>")
    assert '{"path":"/echo","type":"echo","subprotocols":[]}' in page
    assert '{"path":"/rooms/{room}","type":"broadcast","subprotocols":["chat.v1"]}' in page
    assert "http://" not in page and "https://" not in page and "src=" not in page


def test_console_holds_the_echo_conversation_in_chromium(gateway_factory, browser):
    gateway = gateway_factory(CONFIG)

    async def scenario():
        devtools = await open_console(browser, f"http://127.0.0.1:{gateway.port}/console?connect=/echo&send=JetBrains")
        try:
            page = await devtools.wait_for('"Hi, JetBrains!"', lambda page: "Hi, JetBrains!" in lines(page, "recv"))
            assert lines(page, "recv") == ["Please enter your name", "Hi, JetBrains!"]
            assert lines(page, "sent") == ["JetBrains"]
            assert page["state"] == "open"
            # The endpoint list is drawn from the embedded JSON.
            listed = await devtools.call(
                "Runtime.evaluate",
                expression='[...document.querySelectorAll("#endpoint-list .endpoint-path")].map((e) => e.textContent)',
                returnByValue=True,
            )
            assert listed["result"]["value"] == ["/echo", "/rooms/{room}"]
            shot = await devtools.call("Page.captureScreenshot", format="png")
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "console.png").write_bytes(base64.b64decode(shot["data"]))
            assert devtools.problems() == []
        finally:
            await close_console(devtools)

    run(scenario())


def test_console_shows_the_close_code_and_reason(gateway_factory, browser):
    gateway = gateway_factory(CONFIG)

    async def scenario():
        devtools = await open_console(browser, f"http://127.0.0.1:{gateway.port}/console?connect=/echo&send=bye")
        try:
            page = await devtools.wait_for("a close line", lambda page: lines(page, "close"))
            close = next(line for line in page["lines"] if line["kind"] == "close")
            assert close["code"] == "1000"
            assert close["reason"] == "Client said BYE"
            assert "1000 Normal Closure" in close["body"] and "Client said BYE" in close["body"]
            page = await devtools.wait_for("the closed state", lambda page: page["state"] == "closed")
            assert lines(page, "sent") == ["bye"]
            assert devtools.problems() == []
        finally:
            await close_console(devtools)

    run(scenario())


def test_console_token_field_opens_a_protected_endpoint(gateway_factory, browser, tmp_path):
    """The token typed into the console travels as the `base64url.bearer.` subprotocol, beside the
    endpoint's own, and is never shown in the log."""
    import jwt

    secret = "console-secret-0123456789abcdef0123456789"
    config = tmp_path / "console-auth.yaml"
    config.write_text(f"""\
version: 1
server: {{ console_path: /console }}
endpoints:
  - path: /secure
    type: echo
    greeting: "hello"
    subprotocols: [chat]
    auth: {{ jwt: {{ secret: "{secret}", token_from: [subprotocol] }} }}
""")
    gateway = gateway_factory(str(config))
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 300}, secret, algorithm="HS256")

    async def scenario():
        devtools = await open_console(browser, f"http://127.0.0.1:{gateway.port}/console")
        try:
            await devtools.wait_for("the page", lambda page: page["state"] is not None)
            await devtools.call("Runtime.evaluate", expression=f"""
                document.getElementById("path").value = "/secure";
                document.getElementById("protocols").value = "chat";
                document.getElementById("token").value = {json.dumps(token)};
                document.getElementById("connect").click();""")
            page = await devtools.wait_for('"hello"', lambda page: "hello" in lines(page, "recv"))
            assert page["state"] == "open"
            assert all(token not in line["body"] for line in page["lines"])
            assert devtools.problems() == []
        finally:
            await close_console(devtools)

    run(scenario())

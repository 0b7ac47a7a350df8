"""Several instances (#14): three `wsgate serve` processes share their rooms through a real redis-server.

Every member hears a room's messages in one order whichever instance it reached; `{position}` and
`?since=` resume with exactly the missed messages (else a reset notice and the history from Redis);
a Redis restart keeps the sessions open; health and metrics report the broker."""
import asyncio
import functools
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect

from conftest import free_port

CONFIG = "Tests/e2e/instances.yaml"
INSTALL = ("redis-server is not installed, and these tests need a real one: run scripts/setup-test-tools "
           "(it runs apt-get install redis-server), or set REDIS_SERVER=/path/to/redis-server")


class Redis:
    """A redis-server on 127.0.0.1 and a free port, without persistence (a restart loses every key)
    unless `options` ask for it (e.g. `--appendonly yes`); a restart keeps its port and directory."""

    def __init__(self, *options: str):
        self.options = list(options) or ["--save", "", "--appendonly", "no"]
        self.binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
        if not self.binary:
            pytest.fail(INSTALL)
        self.directory = tempfile.mkdtemp(prefix="wsgate-e2e-redis-")
        self.process = None
        # A port free a moment ago can be taken before redis-server binds it: it then exits, and
        # is started again on another port.
        for _ in range(5):
            self.port = free_port()
            if self.start(retry=True):
                return
        pytest.fail("redis-server exited five times before answering (are ports being taken?)")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, retry: bool = False) -> bool:
        """Starts (or restarts, on the same port) the server and waits until it answers PING as
        Redis does; a bare TCP accept could be another process holding the port."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *self.options,
             "--dir", self.directory, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if retry:
                    return False
                pytest.fail(f"redis-server on port {self.port} exited with {self.process.returncode} "
                            "before answering (is the port taken?)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    probe.settimeout(1)
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16)[:1] in (b"+", b"-"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"redis-server on port {self.port} did not answer PING within 20 s")

    def command(self, *arguments: str) -> str:
        """One command through redis-cli (Debian's redis-tools, beside redis-server)."""
        cli = shutil.which("redis-cli") or os.path.join(os.path.dirname(self.binary), "redis-cli")
        return subprocess.run([cli, "-p", str(self.port), *arguments], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    def pause(self, paused: bool):
        """SIGSTOP or SIGCONT: a Redis that hangs with its connections open."""
        self.process.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.send_signal(signal.SIGCONT)  # a paused server dies only once continued
            self.process.wait()

    def stop(self):
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def redis():
    server = Redis()
    yield server
    server.stop()


@pytest.fixture
def instances(gateway_factory, redis):
    return [gateway_factory(CONFIG, env={"REDIS_URL": redis.url}) for _ in range(3)]


def scenario(seconds: float = 90):
    """Runs an async test body in its own event loop, bounded in time."""
    def wrap(function):
        @functools.wraps(function)
        def test(*args, **kwargs):
            return asyncio.run(asyncio.wait_for(function(*args, **kwargs), seconds))
        return test
    return wrap


async def receive(ws, timeout: float = 10) -> str:
    return await asyncio.wait_for(ws.recv(), timeout)


async def receive_all(ws, count: int, timeout: float = 20) -> list[str]:
    return [await receive(ws, timeout) for _ in range(count)]


async def silent(ws, seconds: float = 0.3) -> bool:
    try:
        message = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return True
    pytest.fail(f"unexpected message {message!r}")


def split(message: str) -> tuple[str, str]:
    """`POSITION name: text` -> (position, 'name: text')."""
    position, _, rest = message.partition(" ")
    return position, rest


async def joined(*members):
    """Waits until every member's replay is done (a probe from the first reaches all of them)."""
    await members[0].send("probe")
    for ws in members:
        assert split(await receive(ws))[1].endswith("probe")


def health(gateway) -> dict:
    with urllib.request.urlopen(gateway.http_url("/healthz"), timeout=5) as response:
        return json.loads(response.read())


def metrics(gateway) -> str:
    with urllib.request.urlopen(gateway.http_url("/metrics"), timeout=5) as response:
        return response.read().decode()


@scenario()
async def test_threeInstances_deliverEveryMessage_inOneOrder(instances):
    urls = [gateway.url(f"/chat/order?name=m{index}") for index, gateway in enumerate(instances)]
    async with connect(urls[0]) as a, connect(urls[1]) as b, \
            connect(urls[2]) as c:
        await joined(a, b, c)
        # Everyone sends at once, 60 messages each, from three instances.
        await asyncio.gather(*(ws.send(f"{name}{index}") for index in range(60)
                               for name, ws in (("a", a), ("b", b), ("c", c))))
        seen = [await receive_all(ws, 180) for ws in (a, b, c)]
        assert seen[0] == seen[1] == seen[2]
        positions = [split(message)[0] for message in seen[0]]
        offsets = [int(position.split(":")[1]) for position in positions]
        assert offsets == list(range(offsets[0], offsets[0] + 180))
        assert len({position.split(":")[0] for position in positions}) == 1
        texts = [split(message)[1].split(": ", 1)[1] for message in seen[0]]
        for name in "abc":  # each sender's messages keep their order
            assert [text for text in texts if text.startswith(name)] == [f"{name}{index}" for index in range(60)]


@scenario()
async def test_since_resumesWithExactlyTheMissedMessages_onAnotherInstance(instances):
    first, second, third = instances
    async with connect(second.url("/chat/resume?name=talker")) as talker:
        async with connect(first.url("/chat/resume?name=reader")) as reader:
            await joined(talker, reader)
            for index in range(3):
                await talker.send(f"before{index}")
            seen = await receive_all(reader, 3)
            assert [split(message)[1] for message in seen] == [f"talker: before{index}" for index in range(3)]
            last = split(seen[-1])[0]
        # The reader is gone; the room goes on without it.
        for index in range(4):
            await talker.send(f"missed{index}")
        missed = await receive_all(talker, 7)
        async with connect(third.url(f"/chat/resume?name=reader&since={last}")) as back:
            replay = await receive_all(back, 4)
            assert replay == missed[3:]
            assert [split(message)[1] for message in replay] == [f"talker: missed{index}" for index in range(4)]
            await talker.send("live")
            assert split(await receive(back))[1] == "talker: live"
            await silent(back)
        # Up to date: nothing is replayed, the next message is live.
        current = split((await receive_all(talker, 1))[0])[0]
        async with connect(first.url(f"/chat/resume?name=again&since={current}")) as again:
            await talker.send("next")
            assert split(await receive(again))[1] == "talker: next"
            await silent(again)


@scenario()
async def test_since_tooOldOrUnknown_sendsTheResetNotice_thenTheHistory(instances):
    first, second, _ = instances
    async with connect(second.url("/chat/old?name=talker")) as talker:
        await joined(talker)
        # Three times stream_size (50): the first ones are trimmed away (MAXLEN ~ trims whole nodes
        # of 100 entries), and more than a resume reads.
        for index in range(150):
            await talker.send(f"m{index}")
        seen = await receive_all(talker, 150)
        epoch = split(seen[0])[0].split(":")[0]
        latest = split(seen[-1])[0]
        for since in (f"{epoch}:1", "feedbeef:3", "garbage"):
            async with connect(first.url(f"/chat/old?name=late&since={since}")) as late:
                assert await receive(late) == f"reset {latest}"
                assert await receive_all(late, 3) == seen[-3:]  # history: 3, from Redis
                await silent(late)
        # Without since: the history alone, from whichever instance.
        async with connect(first.url("/chat/old?name=new")) as new:
            assert await receive_all(new, 3) == seen[-3:]
            await silent(new)


@scenario()
async def test_redisRestart_keepsSessionsOpen_andRoomsWorkAgain(instances, redis):
    first, second, _ = instances
    async with connect(first.url("/chat/restart?name=a")) as a, \
            connect(second.url("/chat/restart?name=b")) as b:
        await joined(a, b)
        redis.kill()
        deadline = time.monotonic() + 10
        while health(first)["broker"]["state"] == "connected" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert health(first)["broker"]["state"] == "reconnecting"
        assert health(first)["status"] == "serving"
        await a.send("while down")  # on_unavailable: reject (counted); the session stays open
        redis.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(
                health(gateway)["broker"]["state"] == "connected" for gateway in (first, second)):
            await asyncio.sleep(0.1)
        # Redis lost every key: a new epoch, and both members hear what follows, in one order.
        got = None
        while got is None and time.monotonic() < deadline + 10:
            await a.send("after")
            try:
                got = await asyncio.wait_for(b.recv(), 1)
            except asyncio.TimeoutError:
                pass
        assert got is not None and split(got)[1] == "a: after"
        # a was told of each message refused while Redis was away (`unavailable` in instances.yaml).
        heard = await receive(a)
        while heard == "unavailable":
            heard = await receive(a)
        assert split(heard)[1] == "a: after"
        assert health(first)["broker"]["reconnects"] >= 2
        assert 'wsgate_broker_reconnects_total{connection="subscriber"}' in metrics(first)


@scenario()
async def test_welcomePosition_isWhereTheJoinerStarts_andResumesFromThere(instances):
    first, second, third = instances
    async with connect(first.url("/pos/w")) as a:
        assert await receive(a) == "at "  # the room has no messages yet
        await a.send("one")
        position_one = split(await receive(a))[0]
        async with connect(second.url("/pos/w")) as b:
            assert await receive(b) == f"at {position_one}"
            await a.send("two")
            assert split(await receive(b))[1] == "two"
            assert split(await receive(a))[1] == "two"
        # Resuming from the welcome's position gives what came after it.
        async with connect(third.url(f"/pos/w?since={position_one}")) as c:
            epoch, offset = position_one.split(":")
            assert await receive(c) == f"at {epoch}:{int(offset) + 1}"
            assert split(await receive(c))[1] == "two"
            await silent(c)


@scenario()
async def test_hungRedis_failsPublishesAfterTheCommandTimeout_andRecovers(instances, redis):
    first, second, _ = instances
    async with connect(first.url("/chat/hung?name=a")) as a, connect(second.url("/chat/hung?name=b")) as b:
        await joined(a, b)
        redis.pause(True)
        started = time.monotonic()
        await a.send("stuck")
        # command_timeout is 2s: the publish fails, the instance reconnects (and waits for Redis).
        while health(first)["broker"]["publish_errors"] == 0 and time.monotonic() - started < 10:
            await asyncio.sleep(0.1)
        assert health(first)["broker"]["publish_errors"] == 1
        assert time.monotonic() - started < 6
        assert health(first)["status"] == "serving"
        redis.pause(False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(
                health(gateway)["broker"]["state"] == "connected" for gateway in (first, second)):
            await asyncio.sleep(0.1)
        await a.send("after")
        heard = []
        while "a: after" not in heard:
            heard.append(split(await receive(b))[1])
        # "stuck" may or may not have run in Redis before it hung: if it did, it comes first.
        assert heard in (["a: after"], ["a: stuck", "a: after"])


@scenario()
async def test_health_andMetrics_reportTheBroker(instances):
    first, second, _ = instances
    async with connect(first.url("/chat/h?name=a")) as a, \
            connect(second.url("/chat/h?name=b")) as b:
        await joined(a, b)
        for index in range(5):
            await a.send(f"m{index}")
        await receive_all(b, 5)
    report = health(first)["broker"]
    assert report["state"] == "connected"
    assert report["published"] >= 6 and report["publish_errors"] == 0
    assert report["dropped"] == 0 and report["lost"] == 0
    assert report["delivery_lag_ms"] >= 0
    text = metrics(second)
    for name in ("wsgate_broker_publishes_total", "wsgate_broker_delivery_lag_seconds",
                 "wsgate_broker_dropped_total", "wsgate_broker_connected"):
        assert name in text, name


@scenario()
async def test_brokerLocalEndpoint_staysInItsInstance(instances):
    first, second, _ = instances
    async with connect(first.url("/lobby")) as a, connect(second.url("/lobby")) as b:
        await a.send("only here")
        assert await receive(a) == "only here"
        await silent(b)


class Collector:
    """Reads one member's messages in the background, in their order, until the session ends."""

    def __init__(self, ws, name: str):
        self.ws, self.name, self.messages = ws, name, []
        self.task = asyncio.create_task(self._read())

    async def _read(self):
        async for message in self.ws:
            self.messages.append(message)

    def positioned(self) -> list[tuple[int, str]]:
        """(offset, 'name: text') of every message the broker gave a position."""
        return [(int(position.split(":")[1]), text) for position, text in map(split, self.messages)
                if ":" in position]

    def unpositioned(self) -> list[str]:
        """Messages delivered without a position (`on_unavailable: local`) and notices."""
        return [message for message in self.messages if ":" not in split(message)[0]]

    async def until_offset(self, top: int, seconds: float = 30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not any(offset == top for offset, _ in self.positioned()):
            await asyncio.sleep(0.05)
        assert any(offset == top for offset, _ in self.positioned()), \
            f"{self.name} never got offset {top}; last: {self.messages[-3:]}"


async def stream(ws, name: str, count: int, pause: float = 0.005):
    """`count` messages NAME0, NAME1, … with a pause between them."""
    for index in range(count):
        await ws.send(f"{name}{index}")
        await asyncio.sleep(pause)


async def state_everywhere(gateways, state: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(health(g)["broker"]["state"] == state for g in gateways):
        await asyncio.sleep(0.05)
    assert all(health(g)["broker"]["state"] == state for g in gateways), state


def top_offset(redis, room: str) -> int:
    """The room's offset in Redis (`s` in its meta hash; instances.yaml's prefix e2e, endpoint /chat/{room})."""
    return int(redis.command("HGET", f"e2e:room:/chat/{{room}}#{room}:meta", "s") or 0)


def assert_one_complete_order(collectors, top: int, first: int = 2):
    """Every member saw offsets first…top (after the probe at 1), each once, in order, the same messages;
    each sender's kept their order."""
    reference = collectors[0].positioned()
    assert [offset for offset, _ in reference] == list(range(first, top + 1)), \
        f"{collectors[0].name}: offsets not {first}…{top}"
    for collector in collectors[1:]:
        assert collector.positioned() == reference, f"{collector.name} differs from {collectors[0].name}"
    texts = [text for _, text in reference]
    for sender in {text.split(": ", 1)[0] for text in texts}:
        indexes = [int(text.split(": ", 1)[1][len(sender):]) for text in texts
                   if text.startswith(f"{sender}: {sender}") and text.split(": ", 1)[1][len(sender):].isdigit()]
        assert indexes == sorted(indexes), f"{sender}'s messages out of order"


@pytest.mark.parametrize("mode", ["reject", "local"])
def test_redisSigkilledMidStream_andRestarted_losesNothingItAccepted(gateway_factory, mode):
    redis = Redis("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    try:
        gateways = [gateway_factory(CONFIG, env={"REDIS_URL": redis.url, "ON_UNAVAILABLE": mode})
                    for _ in range(3)]
        asyncio.run(asyncio.wait_for(killed_mid_stream(gateways, redis, mode), 120))
    finally:
        redis.stop()


async def killed_mid_stream(gateways, redis, mode):
    first, second, third = gateways
    async with connect(first.url("/chat/kill?name=a")) as a, connect(second.url("/chat/kill?name=b")) as b, \
            connect(third.url("/chat/kill?name=c")) as c, connect(first.url("/chat/kill?name=d")) as d:
        await joined(a, b, c, d)
        collectors = [Collector(ws, name) for ws, name in ((a, "a"), (b, "b"), (c, "c"), (d, "d"))]
        # Two publishers on two instances; Redis dies while they send.
        senders = [asyncio.create_task(stream(a, "a", 300)), asyncio.create_task(stream(b, "b", 300))]
        await asyncio.sleep(0.4)
        redis.kill()
        await state_everywhere(gateways, "reconnecting")
        await asyncio.gather(*senders)
        for gateway in gateways:
            assert health(gateway)["status"] == "serving"
        redis.start()
        await state_everywhere(gateways, "connected")
        for ws, name in ((a, "a"), (b, "b"), (c, "c")):  # every instance publishes again
            await ws.send(f"{name}-after")
        # The top is read once the three are through (on a loaded machine 0.2 s was not always enough,
        # and a publish landing after the read showed up as an offset past the top).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not {"a: a-after", "b: b-after", "c: c-after"} <= {
                text for _, text in collectors[0].positioned()}:
            await asyncio.sleep(0.05)
        top = top_offset(redis, "kill")
        for collector in collectors:
            await collector.until_offset(top)
        await asyncio.sleep(0.3)  # anything beyond would show up now
        # Nothing Redis accepted (AOF, fsync always: its offsets are all there after the restart) is missing.
        assert_one_complete_order(collectors, top)
        texts = {text for _, text in collectors[0].positioned()}
        assert {"a: a-after", "b: b-after", "c: c-after"} <= texts
        rejected = [health(gateway)["broker"]["rejected"] for gateway in gateways]
        local = [health(gateway)["broker"]["local"] for gateway in gateways]
        by_name = {collector.name: collector.unpositioned() for collector in collectors}
        # What was not accepted: refused with a notice to its sender, or delivered on its instance only.
        a_missing = 300 - sum(1 for _, text in collectors[0].positioned() if text.startswith("a: a") and
                              text[4:].isdigit())
        assert a_missing > 0, "Redis was killed after the stream ended"
        if mode == "reject":
            assert by_name["a"] == ["unavailable"] * rejected[0] and rejected[0] > 0
            assert by_name["b"] == ["unavailable"] * rejected[1] and rejected[1] > 0
            assert by_name["c"] == by_name["d"] == []
            assert local == [0, 0, 0]
            # Refused, or failed in flight (sent before the instance saw Redis go; counted as errors).
            assert rejected[0] <= a_missing <= rejected[0] + health(first)["broker"]["publish_errors"]
        else:
            assert rejected == [0, 0, 0]
            assert by_name["a"] == by_name["d"] and by_name["a"]  # instance 1: a's, in order, to a and d
            assert all(message.startswith(" a: a") for message in by_name["a"])
            assert by_name["b"] and all(message.startswith(" b: b") for message in by_name["b"])
            assert by_name["c"] == []
            assert local[0] == len(by_name["a"]) and local[1] == len(by_name["b"])
            indexes = [int(message[5:]) for message in by_name["a"]]
            assert indexes == sorted(indexes)
        metrics_text = metrics(first)
        assert "wsgate_broker_unavailable_total" in metrics_text


def test_clientKillPubsub_whileMessagesFlow_leavesNoGap(gateway_factory, redis):
    # Streams large enough to hold what a room publishes while a subscriber reconnects: the claim is
    # that a catch-up fills every gap the stream can fill (with stream_size 50, a reconnection on a
    # loaded machine can fall more than 50 messages behind, and those are lost by design, counted).
    gateways = [gateway_factory(CONFIG, env={"REDIS_URL": redis.url, "STREAM_SIZE": "2000"}) for _ in range(3)]
    asyncio.run(asyncio.wait_for(client_kill_mid_flow(gateways, redis), 90))


async def client_kill_mid_flow(instances, redis):
    first, second, third = instances
    async with connect(first.url("/chat/ck?name=a")) as a, connect(second.url("/chat/ck?name=b")) as b, \
            connect(third.url("/chat/ck?name=c")) as c:
        await joined(a, b, c)
        collectors = [Collector(ws, name) for ws, name in ((a, "a"), (b, "b"), (c, "c"))]
        senders = [asyncio.create_task(stream(a, "a", 300, 0.003)), asyncio.create_task(stream(b, "b", 300, 0.003))]
        for _ in range(3):
            await asyncio.sleep(0.25)
            killed = redis.command("CLIENT", "KILL", "TYPE", "pubsub")
            assert int(killed) >= 1, killed  # the three subscribers, unless one is between connections
        await asyncio.gather(*senders)
        top = top_offset(redis, "ck")
        assert top == 601  # the probe and every message: publishing never stopped
        for collector in collectors:
            await collector.until_offset(top)
        await asyncio.sleep(0.3)
        assert_one_complete_order(collectors, top)
        assert all(collector.unpositioned() == [] for collector in collectors)
        assert sum(health(gateway)["broker"]["reconnects"] for gateway in instances) >= 3
        assert [health(gateway)["broker"]["lost"] for gateway in instances] == [0, 0, 0]


def test_instanceStoppedPastTheOutputBufferLimit_catchesUpAfterSigcont(gateway_factory):
    # A subscriber more than 64 KiB behind is dropped by Redis at once.
    redis = Redis("--save", "", "--appendonly", "no", "--client-output-buffer-limit", "pubsub 64kb 32kb 1")
    try:
        gateways = [gateway_factory(CONFIG, env={"REDIS_URL": redis.url, "STREAM_SIZE": "5000"})
                    for _ in range(3)]
        asyncio.run(asyncio.wait_for(stopped_instance(gateways, redis), 120))
    finally:
        redis.stop()


async def stopped_instance(gateways, redis):
    first, second, third = gateways
    async with connect(first.url("/chat/stop?name=a")) as a, connect(second.url("/chat/stop?name=b")) as b, \
            connect(third.url("/chat/stop?name=c"), max_size=None) as c:
        await joined(a, b, c)
        collectors = [Collector(ws, name) for ws, name in ((a, "a"), (b, "b"), (c, "c"))]
        third.process.send_signal(signal.SIGSTOP)
        try:
            # 1,500 messages of 4 KiB: 6 MiB, far past what the socket buffers and the limit hold.
            padding = "x" * 4096
            clients_before = redis.command("CLIENT", "LIST", "TYPE", "pubsub").count("\n") + 1
            for index in range(1500):
                await a.send(f"a{index} {padding}")
                if index % 100 == 99:
                    await asyncio.sleep(0.05)
            await collectors[1].until_offset(1501)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and \
                    redis.command("CLIENT", "LIST", "TYPE", "pubsub").count("\n") + 1 >= clients_before:
                await asyncio.sleep(0.1)
            assert redis.command("CLIENT", "LIST", "TYPE", "pubsub").count("\n") + 1 < clients_before, \
                "Redis kept the stopped instance's subscriber"
            assert collectors[2].messages == []
        finally:
            third.process.send_signal(signal.SIGCONT)
        await a.send("after")
        for collector in collectors:
            await collector.until_offset(1502, seconds=60)
        await asyncio.sleep(0.3)
        for collector in collectors:
            assert [offset for offset, _ in collector.positioned()] == list(range(2, 1503)), collector.name
            assert collector.unpositioned() == []
        assert collectors[2].positioned() == collectors[0].positioned()
        report = health(third)["broker"]
        assert report["reconnects"] >= 1 and report["lost"] == 0


def test_benchAlso_spreadsTheMembersOverInstances_andEachHearsEveryMessage(instances):
    from conftest import wsgate_binary
    first, second, _ = instances
    result = subprocess.run(
        [wsgate_binary(), "bench", first.url("/chat/bench?name=m"), "--also", second.url("/chat/bench?name=m"),
         "--mode", "broadcast", "--connections", "40", "--messages", "100", "--duration", "20s", "--json"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["count"] == 40 * 100 and report["sent"] == 100 and report["failed"] == 0
    # 20 members on each instance: the second delivered every message to its 20 through Redis.
    assert health(second)["broker"]["delivered"] >= 100

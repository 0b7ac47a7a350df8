"""The backend API (`server.api`): publish as a member would (format, history, and the Redis broker to
members on two instances), list rooms, disconnect; JSON errors 401/400/404/413; the key never in logs;
and the OpenAPI document in schemas/ checked against the running server by schemathesis."""
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import ROOT, Gateway, free_port
from test_instances import Redis
from test_production import run, write_config

KEY = "e2e-api-key-0123456789abcdef0123456789"


def config(tmp_path, api_port, broker=""):
    return write_config(tmp_path, f"""\
        version: 1
        server:
          api: {{ path: /api, key: "${{WSGATE_API_KEY}}", listen: "127.0.0.1:{api_port}", max_body: 4KiB }}
        {broker}
        defaults:
          ping_period: 0
        endpoints:
          - path: /room/{{room}}
            type: broadcast
            room: "{{room}}"
            name: "{{query.name}}"
            welcome: null
            format: "[{{name}}]: {{message}}"
            history: 5
          - {{ path: /lobby, type: broadcast, welcome: null }}
          - {{ path: /echo, type: echo }}
        """, name=f"api-{api_port}.yaml")


def api(port, method, path, body=None, key=KEY, raw=None):
    """(status, parsed JSON body) of one API request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def single(gateway_factory, tmp_path):
    port = free_port()
    gateway = gateway_factory(config(tmp_path, port), env={"WSGATE_API_KEY": KEY})
    gateway.api_port = port
    return gateway


def test_publish_reaches_members_through_format_and_history_and_rooms_lists_them(single):
    port = single.api_port

    async def scenario():
        async with connect(single.url("/room/r1?name=alice")) as alice:
            status, body = await asyncio.to_thread(
                api, port, "POST", "/api/publish", {"endpoint": "/room/{room}", "room": "r1", "message": "hello"})
            assert (status, body) == (200, {"published": True, "room": "r1"})
            assert await alice.recv() == "[api]: hello"
            await asyncio.to_thread(api, port, "POST", "/api/publish",
                                    {"endpoint": "/room/{room}", "room": "r1", "name": "ops", "message": "deploy"})
            assert await alice.recv() == "[ops]: deploy"
            payload = bytes(range(256))
            await asyncio.to_thread(api, port, "POST", "/api/publish", {
                "endpoint": "/room/{room}", "room": "r1", "message": {"base64": base64.b64encode(payload).decode()}})
            assert await alice.recv() == payload
            # A one-room endpoint needs no room.
            async with connect(single.url("/lobby")) as lobby:
                status, _ = await asyncio.to_thread(
                    api, port, "POST", "/api/publish", {"endpoint": "/lobby", "message": "all"})
                assert status == 200
                assert await lobby.recv() == "[api]: all"
            # A joiner gets the API's messages in the history.
            async with connect(single.url("/room/r1?name=bob")) as bob:
                assert await bob.recv() == "[api]: hello"
                assert await bob.recv() == "[ops]: deploy"
                assert await bob.recv() == payload
                status, body = await asyncio.to_thread(api, port, "GET", "/api/rooms?endpoint=/room/%7Broom%7D")
                assert status == 200
                assert body == {"endpoint": "/room/{room}", "rooms": [{"room": "r1", "members": 2},],
                                "instances": 1, "complete": True}

    run(scenario())


def test_disconnect_closes_matching_sessions_with_the_code_and_reason(single):
    port = single.api_port

    async def scenario():
        async with connect(single.url("/room/r1?name=alice")) as alice, \
                connect(single.url("/room/r1?name=bob")) as bob, \
                connect(single.url("/room/r2?name=alice")) as other:
            status, body = await asyncio.to_thread(api, port, "POST", "/api/disconnect", {
                "endpoint": "/room/{room}", "room": "r1", "name": "alice", "code": 4001, "reason": "kicked"})
            assert (status, body) == (200, {"disconnected": 1, "instances": 1, "complete": True})
            with pytest.raises(ConnectionClosed) as closed:
                await alice.recv()
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "kicked")
            # The others stay.
            for ws in (bob, other):
                await ws.send("still here")
                assert await ws.recv() == f"[{'bob' if ws is bob else 'alice'}]: still here"

    run(scenario())


def test_errors_are_json_with_status_and_the_key_never_appears_in_logs(single):
    port = single.api_port
    publish = {"endpoint": "/room/{room}", "room": "r1", "message": "x"}
    assert api(port, "POST", "/api/publish", publish, key=None)[0] == 401
    status, body = api(port, "POST", "/api/publish", publish, key=KEY[:-1] + "X")
    assert status == 401 and "API key" in body["error"]
    status, body = api(port, "POST", "/api/publish", raw=b"{not json")
    assert status == 400 and body["error"]
    status, body = api(port, "POST", "/api/publish", {"endpoint": "/room/{room}", "room": "r1"})
    assert (status, body) == (400, {"error": "the body has no 'message'"})
    status, body = api(port, "POST", "/api/publish", {**publish, "endpoint": "/nowhere"})
    assert status == 404 and "/nowhere" in body["error"]
    assert api(port, "POST", "/api/publish", {**publish, "endpoint": "/echo"})[0] == 404
    status, body = api(port, "POST", "/api/publish", {**publish, "message": "x" * 5000})
    assert status == 413 and "max_body" in body["error"]
    assert api(port, "POST", "/api/disconnect", {"endpoint": "/room/{room}", "code": 1006})[0] == 400
    assert api(port, "GET", "/api/rooms")[0] == 400
    assert api(port, "GET", "/api/publish")[0] == 405
    assert api(port, "GET", "/api/other")[0] == 404
    log = single.stop()
    assert "api request" in log and "status=413" in log
    assert KEY not in log and KEY[:-1] not in log


@contextlib.contextmanager
def instances(tmp_path, count, prefix):
    """A redis-server and `count` gateways sharing it as their broker, each with its API port; all stopped after."""
    redis = Redis()
    gateways = []
    try:
        broker = f"broker: {{ url: \"{redis.url}\", prefix: {prefix} }}"
        for _ in range(count):
            port = free_port()
            gateway = Gateway(config(tmp_path, port, broker=broker), env={"WSGATE_API_KEY": KEY})
            gateway.api_port = port
            gateways.append(gateway)
        yield redis, gateways
    finally:
        for gateway in gateways:
            gateway.stop()
        redis.stop()


def test_publish_reaches_members_on_two_instances_through_redis(tmp_path):
    with instances(tmp_path, 2, "api-e2e") as (_, gateways):
        async def scenario():
            async with connect(gateways[0].url("/room/r1?name=alice")) as alice, \
                    connect(gateways[1].url("/room/r1?name=bob")) as bob:
                await asyncio.sleep(0.3)  # both instances subscribed to the room
                status, _ = await asyncio.to_thread(api, gateways[0].api_port, "POST", "/api/publish",
                                                    {"endpoint": "/room/{room}", "room": "r1", "message": "both"})
                assert status == 200
                assert await asyncio.wait_for(alice.recv(), 5) == "[api]: both"
                assert await asyncio.wait_for(bob.recv(), 5) == "[api]: both"

        run(scenario())


def test_rooms_and_disconnect_span_every_instance_sharing_the_broker(tmp_path):
    with instances(tmp_path, 3, "api-census") as (redis, gateways):
        first, second, third = gateways
        rooms = "/api/rooms?endpoint=/room/%7Broom%7D"

        async def scenario():
            async with connect(first.url("/room/r1?name=alice")) as alice, \
                    connect(second.url("/room/r1?name=bob")) as bob, \
                    connect(third.url("/room/r2?name=carol")) as carol:
                # Asked on any instance, the counts are those of all three.
                for gateway in gateways:
                    status, body = await asyncio.to_thread(api, gateway.api_port, "GET", rooms)
                    assert (status, body) == (200, {
                        "endpoint": "/room/{room}", "rooms": [{"room": "r1", "members": 2},
                                                              {"room": "r2", "members": 1}],
                        "instances": 3, "complete": True})
                # A disconnect asked on the first instance closes carol on the third.
                status, body = await asyncio.to_thread(api, first.api_port, "POST", "/api/disconnect", {
                    "endpoint": "/room/{room}", "name": "carol", "code": 4003, "reason": "banned"})
                assert (status, body) == (200, {"disconnected": 1, "instances": 3, "complete": True})
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(carol.recv(), 5)
                assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4003, "banned")
                status, body = await asyncio.to_thread(api, second.api_port, "GET", rooms)
                assert body["rooms"] == [{"room": "r1", "members": 2}]

                # An instance that cannot answer (stopped) is waited for a second, then said missing.
                os.kill(third.process.pid, signal.SIGSTOP)
                try:
                    status, body = await asyncio.to_thread(api, first.api_port, "GET", rooms)
                    assert (status, body["rooms"], body["instances"], body["complete"]) == (
                        200, [{"room": "r1", "members": 2}], 2, False)
                finally:
                    os.kill(third.process.pid, signal.SIGCONT)

                # Redis gone: this instance's own members, said incomplete; sessions stay open.
                redis.kill()
                status, body = await asyncio.to_thread(api, second.api_port, "GET", rooms)
                assert (status, body) == (200, {
                    "endpoint": "/room/{room}", "rooms": [{"room": "r1", "members": 1}],
                    "instances": 1, "complete": False})
                status, body = await asyncio.to_thread(api, first.api_port, "POST", "/api/disconnect", {
                    "endpoint": "/room/{room}", "name": "bob"})
                assert (status, body) == (200, {"disconnected": 0, "instances": 1, "complete": False})
                status, body = await asyncio.to_thread(api, first.api_port, "POST", "/api/disconnect", {
                    "endpoint": "/room/{room}", "name": "alice"})
                assert (status, body) == (200, {"disconnected": 1, "instances": 1, "complete": False})
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(alice.recv(), 5)

        run(scenario())


def test_the_openapi_document_holds_against_the_running_server(single, tmp_path):
    """schemathesis from PyPI drives every operation of schemas/wsgate-api.openapi.yaml, bounded in
    examples and time."""
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", str(ROOT / "schemas" / "wsgate-api.openapi.yaml"),
         "--url", f"http://127.0.0.1:{single.api_port}", "--header", f"Authorization: Bearer {KEY}",
         "--max-examples", "25", "--seed", "1", "--request-timeout", "5", "--checks",
         "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
         "negative_data_rejection,ignored_auth"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)  # it writes .schemathesis/ there
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout  # every operation was exercised



def test_an_api_port_in_use_stops_wsgate_with_a_message_that_names_it(tmp_path):
    import socket

    from conftest import wsgate_binary

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = config(tmp_path, port)
        result = subprocess.run([wsgate_binary(), "serve", path, "--listen", f"127.0.0.1:{free_port()}"],
                                capture_output=True, text=True, timeout=30, env={**os.environ, "WSGATE_API_KEY": KEY})
    assert result.returncode == 1
    assert f"server.api.listen 127.0.0.1:{port}: cannot listen" in result.stdout + result.stderr


def test_without_listen_the_api_answers_on_the_gateways_own_port(gateway_factory, tmp_path):
    path = write_config(tmp_path, """\
        version: 1
        server:
          api: { path: /api, key: "${WSGATE_API_KEY}", max_body: 1KiB }
        defaults:
          ping_period: 0
        endpoints:
          - { path: "/room/{room}", type: broadcast, room: "{room}", welcome: null, format: "{name}: {message}" }
          - { path: /echo, type: echo }
        """, name="api-same-port.yaml")
    gateway = gateway_factory(path, env={"WSGATE_API_KEY": KEY})
    port = gateway.port

    async def scenario():
        async with connect(gateway.url("/room/r1")) as member:
            status, body = await asyncio.to_thread(
                api, port, "POST", "/api/publish", {"endpoint": "/room/{room}", "room": "r1", "message": "hi"})
            assert (status, body) == (200, {"published": True, "room": "r1"})
            assert await member.recv() == "api: hi"
            status, body = await asyncio.to_thread(api, port, "GET", "/api/rooms?endpoint=/room/{room}")
            assert status == 200 and body["rooms"][0]["room"] == "r1", body
        async with connect(gateway.url("/echo")) as echo:  # WebSocket routes beside it are untouched
            await echo.send("still")
            assert await echo.recv() == "still"

    run(scenario())
    assert api(port, "GET", "/api/rooms?endpoint=/room/{room}", key="wrong-key-0123456789")[0] == 401
    status, body = api(port, "POST", "/api/publish", raw=b"{" + b" " * 2048 + b"}")
    assert status == 413 and "error" in body
    assert api(port, "POST", "/api/publish", raw=b"not json")[0] == 400
    # Two requests on one kept-alive connection, the second pipelined behind the first's body.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        body = json.dumps({"endpoint": "/room/{room}", "room": "r9", "message": "x"}).encode()
        request = (f"POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        raw.sendall(request + request)
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2:
            chunk = raw.recv(65536)
            assert chunk, answers
            answers += chunk
    log = gateway.stop()
    assert "api request" in log and KEY not in log

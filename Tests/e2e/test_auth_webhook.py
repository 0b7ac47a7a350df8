"""`auth: { webhook: … }` against a small test backend: 2xx admits (its JSON sets the name, rooms and
claims), 401/403 pass through, a 500 or a timeout refuses with 503 (fail closed), and the backend gets
the method, path, query, allow-listed headers and the peer."""
import asyncio
import http.server
import json
import threading
import time

import pytest
from websockets.asyncio.client import connect

from test_limits_rate import refused
from test_production import http_get, metric, run, write_config


class Backend(http.server.ThreadingHTTPServer):
    """Decides by the `user` query parameter: alice → 200 with a body, empty → 200 without one,
    mallory → 403, nobody → 401, broken → 500, slow → answers after 3 s (past the 1 s timeout)."""

    def __init__(self):
        self.seen = []
        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/check"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(body)
        user = dict(p.split("=", 1) for p in body["query"].split("&") if "=" in p).get("user", "")
        status, answer = {
            "alice": (200, {"name": "alice", "rooms": ["team-*"], "claims": {"team": "blue", "uid": 7}}),
            "empty": (200, None),
            "mallory": (403, None),
            "nobody": (401, None),
            "broken": (500, None),
        }.get(user, (200, None))
        if user == "slow":
            time.sleep(3)
        data = json.dumps(answer).encode() if answer is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def backend():
    server = Backend()
    yield server
    server.shutdown()


@pytest.fixture
def gateway(gateway_factory, tmp_path, backend):
    config = write_config(tmp_path, f"""\
        version: 1
        endpoints:
          - path: /team/{{room}}
            type: broadcast
            room: "{{room}}"
            name: "user{{n}}"
            welcome: "hello {{name}} of {{claims.team}}"
            auth:
              webhook: {{ url: "{backend.url}", timeout: 1s, headers: [Authorization, X-Custom] }}
        """)
    return gateway_factory(config)


def test_the_webhook_admits_with_its_name_and_claims_and_gets_the_request(gateway, backend):
    async def scenario():
        async with connect(gateway.url("/team/team-a?user=alice"),
                           additional_headers={"Authorization": "Bearer opaque", "X-Custom": "1",
                                               "X-Secret": "not forwarded"}) as ws:
            assert await ws.recv() == "hello alice of blue"
            await ws.send("hi")
            assert await ws.recv() == "[alice]: hi"
        # An empty 2xx body admits with the endpoint's own name.
        async with connect(gateway.url("/team/team-a?user=empty")) as ws:
            assert await ws.recv() == "hello user0 of "

    run(scenario())
    seen = backend.seen[0]
    assert seen["method"] == "GET" and seen["path"] == "/team/team-a" and seen["query"] == "user=alice"
    assert seen["headers"] == {"authorization": "Bearer opaque", "x-custom": "1"}
    assert seen["peer"]["address"] == "127.0.0.1" and seen["peer"]["port"] > 0


def test_refusals_pass_through_and_failures_fail_closed(gateway):
    async def scenario():
        assert (await refused(gateway.url("/team/team-a?user=mallory"))).status_code == 403
        response = await refused(gateway.url("/team/team-a?user=nobody"))
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await refused(gateway.url("/team/team-a?user=broken"))).status_code == 503
        started = time.monotonic()
        assert (await refused(gateway.url("/team/team-a?user=slow"))).status_code == 503
        assert time.monotonic() - started < 2.5  # the 1 s timeout, not the backend's 3 s
        # Rooms the webhook granted: team-* only.
        assert (await refused(gateway.url("/other/x?user=alice"))).status_code == 404
        assert (await refused(gateway.url("/team/lobby?user=alice"))).status_code == 403

    run(scenario())
    text = http_get(gateway.http_url("/metrics"))[1]
    assert metric(text, "wsgate_handshakes_refused_total", reason="webhook_refused") == 2
    assert metric(text, "wsgate_handshakes_refused_total", reason="webhook_unavailable") == 2
    assert metric(text, "wsgate_handshakes_refused_total", reason="room_forbidden") == 1

"""type: static beside WebSocket endpoints, and HTTP keep-alive, over raw sockets."""
import asyncio
import os

import pytest
from websockets.asyncio.client import connect

from conftest import Gateway
from httpraw import HTTPConnection


@pytest.fixture
def gateway(tmp_path):
    public = tmp_path / "public"
    (public / "css").mkdir(parents=True)
    (public / "index.html").write_text("<h1>static</h1>\n")
    (public / "css" / "site.css").write_text("body{}\n")
    (public / "big.bin").write_bytes(bytes(range(256)) * 4096 + b"tail")  # 1 MiB and 4 bytes
    (tmp_path / "secret.txt").write_text("top secret\n")
    os.symlink(tmp_path / "secret.txt", public / "abs-link.txt")
    os.symlink("..", public / "up")
    config = tmp_path / "static.yaml"
    config.write_text(
        "version: 1\n"
        "endpoints:\n"
        "  - { path: /, type: echo }\n"
        "  - { path: /, type: static, directory: public }\n"
        "  - { path: /assets, type: static, directory: public/css }\n"
    )
    started = Gateway(str(config))
    yield started
    started.stop()


def test_keep_alive_two_requests_then_connection_close(gateway):
    with HTTPConnection(gateway.port) as http:
        status, headers, body = http.request("/")
        assert (status, body) == (200, b"<h1>static</h1>\n")
        assert "connection" not in headers
        status, _, body = http.request("/healthz")
        assert status == 200 and b'"serving"' in body
        status, headers, _ = http.request("/css/site.css", headers="Connection: close\r\n")
        assert status == 200 and headers["connection"] == "close"
        assert http.closed_by_server()


def test_http10_closes_and_pipelined_requests_come_back_in_order(gateway):
    with HTTPConnection(gateway.port) as http:
        status, headers, _ = http.request("/", version="HTTP/1.0")
        assert status == 200 and headers["connection"] == "close"
        assert http.closed_by_server()
    with HTTPConnection(gateway.port) as http:
        http.send(b"GET /css/site.css HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /assets/site.css HTTP/1.1\r\nHost: x\r\n\r\n")
        assert http.response()[2] == b"body{}\n"
        assert http.response()[0] == 404
        assert http.response()[2] == b"body{}\n"


def test_etag_and_last_modified_give_304_and_a_large_file_streams(gateway):
    with HTTPConnection(gateway.port) as http:
        status, headers, _ = http.request("/index.html")
        etag, modified = headers["etag"], headers["last-modified"]
        assert http.request("/index.html", headers=f"If-None-Match: {etag}\r\n")[0] == 304
        assert http.request("/index.html", headers=f"If-Modified-Since: {modified}\r\n")[0] == 304
        status, headers, body = http.request("/big.bin")
        assert status == 200 and body == bytes(range(256)) * 4096 + b"tail"
        assert headers["content-type"] == "application/octet-stream"
        status, headers, body = http.request("/big.bin", method="HEAD")
        assert status == 200 and headers["content-length"] == str(1024 * 1024 + 4) and body == b""


@pytest.mark.parametrize("path", [
    "/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2E%2E%2Fsecret.txt", "/abs-link.txt",
    "/up/secret.txt", "/assets/../index.html", "/assets/..%2f..%2fsecret.txt", "/index.html%00",
    "/css%5c..%5c..%5csecret.txt", "/..\\secret.txt",
])
def test_traversal_is_refused(gateway, path):
    with HTTPConnection(gateway.port) as http:
        status, _, body = http.request(path)
        assert status in (400, 404)
        assert b"secret" not in body and b"<h1>" not in body


def test_an_upgrade_on_the_static_path_reaches_the_websocket_endpoint(gateway):
    async def scenario():
        async with connect(gateway.url("/")) as ws:
            await ws.send("hello files")
            assert await ws.recv() == "hello files"

    asyncio.run(asyncio.wait_for(scenario(), timeout=20))
    with HTTPConnection(gateway.port) as http:
        # A kept-alive connection can still upgrade.
        assert http.request("/")[0] == 200
        http.send(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        status, headers, _ = http.response()
        assert status == 101 and headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_files_leave_no_descriptor_open(gateway):
    """GET, HEAD, 304 and a download cut short each open a file; every one is closed again."""
    baseline = asyncio.run(gateway.settled_descriptors())
    with HTTPConnection(gateway.port) as http:
        _, headers, _ = http.request("/index.html")
        for _ in range(100):
            assert http.request("/css/site.css")[0] == 200
            assert http.request("/big.bin", method="HEAD")[0] == 200
            assert http.request("/index.html", headers=f"If-None-Match: {headers['etag']}\r\n")[0] == 304
    for _ in range(20):  # a client that leaves in the middle of a large file
        with HTTPConnection(gateway.port) as http:
            http.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            http.sock.recv(1024)
    assert asyncio.run(gateway.descriptors_after_settling(baseline)) <= baseline

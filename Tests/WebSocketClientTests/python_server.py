"""A websockets server for the Swift client's tests: writes its port to argv[1], then serves until killed.

/echo echoes (subprotocol `chat` when offered); /close4001 closes with 4001 "from python";
/extensions answers with the client's Sec-WebSocket-Extensions header; /big sends 2 MiB; /redirect answers 302 to /echo; /missing answers 404.
"""
import asyncio
import os
import sys
from http import HTTPStatus

from websockets.asyncio.server import serve


async def handler(ws):
    path = ws.request.path
    if path.startswith("/close4001"):
        await ws.close(4001, "from python")
    elif path.startswith("/extensions"):
        await ws.send(ws.request.headers.get("Sec-WebSocket-Extensions", "-"))
        async for message in ws:
            await ws.send(message)
    elif path.startswith("/big"):
        await ws.send(b"x" * (2 << 20))
        await ws.wait_closed()
    else:
        async for message in ws:
            await ws.send(message)


def process_request(connection, request):
    if request.path.startswith("/redirect"):
        response = connection.respond(HTTPStatus.FOUND, "moved\n")
        response.headers["Location"] = "/echo"
        return response
    if request.path.startswith("/missing"):
        return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
    return None


async def main():
    async with serve(
        handler, "127.0.0.1", 0, max_size=None, process_request=process_request,
        select_subprotocol=lambda _, offered: "chat" if "chat" in offered else None,
    ) as server:
        port_file = sys.argv[1]
        with open(port_file + ".tmp", "w") as out:
            out.write(str(server.sockets[0].getsockname()[1]))
        os.rename(port_file + ".tmp", port_file)
        await asyncio.Future()


asyncio.run(main())

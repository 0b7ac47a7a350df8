"""A room's messages of one loop turn reach each member as one write (PreparedBatch): every member,
whatever it negotiated, gets every message once and in order."""
import asyncio
import textwrap

import pytest
from websockets.asyncio.client import connect


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=90))


@pytest.mark.parametrize("server_no_context_takeover", ["true", "false"])
def test_bursts_reach_members_with_and_without_deflate_in_order(gateway_factory, tmp_path, server_no_context_takeover):
    # true: deflate members share one encoding of each batch; false: each compresses with its own context.
    config = tmp_path / "rooms.yaml"
    config.write_text(textwrap.dedent(f"""\
        version: 1
        endpoints:
          - path: /room
            type: broadcast
            ping_period: 0
            welcome: null
            format: "{{message}}"
            extensions:
              permessage-deflate: {{ enabled: true, server_no_context_takeover: {server_no_context_takeover} }}
        """))
    gateway = gateway_factory(str(config))
    count = 500

    async def scenario():
        members = []
        for index in range(12):
            # Half offer deflate, half do not: both kinds of encoding in the same batches.
            compression = "deflate" if index % 2 == 0 else None
            members.append(await connect(gateway.url("/room"), compression=compression, max_size=None))
        try:
            negotiated = [ws.response.headers.get("Sec-WebSocket-Extensions") for ws in members]
            assert all((value is not None) == (index % 2 == 0) for index, value in enumerate(negotiated)), negotiated
            publisher = members[0]
            # Sent without waiting: the gateway reads many of them in one turn, and batches them.
            texts = [f"message {i} " + "payload " * (i % 7) for i in range(count)]
            for text in texts:
                await publisher.send(text)
            await publisher.send(b"\x00\x01binary\xff")

            async def receive_all(ws):
                return [await ws.recv() for _ in range(count + 1)]

            received = await asyncio.gather(*(receive_all(ws) for ws in members))
            for got in received:
                assert got[:count] == texts
                assert got[count] == b"\x00\x01binary\xff"
        finally:
            for ws in members:
                await ws.close()

    run(scenario())

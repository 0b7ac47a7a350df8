#!/usr/bin/env python3
"""A reference client for scripts/autobahn-client: Python `websockets` echoing every case, with
permessage-deflate, sending messages shorter than MIN_SIZE bytes uncompressed (RFC 7692 allows it;
wsgate's compress_min_size does the same).

    scripts/autobahn-client --cases '12.2.1,12.3.1' -- .venv-test/bin/python \
        scripts/autobahn_websockets_client.py '{url}' 32

With MIN_SIZE 32, kosoku 0.1.0's fuzzing server reports 12.2.1 and 12.3.1 FAILED ("Echo'ed message
length differs ... got length 24, expected length 16"), exactly as for wsgate's client; with 0 (every
message compressed) both pass. So wsgate-autobahn-client compresses every message (docs/client.md).
"""
import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import Opcode

MIN_SIZE = int(sys.argv[2]) if len(sys.argv) > 2 else 0
_encode = PerMessageDeflate.encode


def encode(self, frame):
    if frame.opcode != Opcode.CONT and len(frame.data) < MIN_SIZE:
        return frame  # RSV1 clear: sent as is
    return _encode(self, frame)


PerMessageDeflate.encode = encode


async def main(base: str) -> None:
    async with connect(base + "/getCaseCount") as ws:
        count = int(await ws.recv())
    for case in range(1, count + 1):
        try:
            async with connect(f"{base}/runCase?case={case}&agent=websockets", max_size=None, compression=None,
                               extensions=[ClientPerMessageDeflateFactory(client_max_window_bits=True)]) as ws:
                async for message in ws:
                    await ws.send(message)
        except Exception as error:  # a case may break the connection on purpose
            print(f"case {case}: {error}")
    async with connect(base + "/updateReports?agent=websockets") as ws:
        await ws.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

"""A deliberately minimal WebSocket client on raw asyncio streams, for sending bad input."""
import asyncio
import os

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
)


def frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True, rsv: int = 0) -> bytes:
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        head += bytes([mask_bit | len(payload)])
    elif len(payload) < 65536:
        head += bytes([mask_bit | 126]) + len(payload).to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + len(payload).to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawClient:
    @classmethod
    async def open(cls, port: int, path: str = "/echo", extra_headers: str = ""):
        self = cls()
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.writer.write(HANDSHAKE.format(path=path, extra=extra_headers).encode())
        self.head = await self.reader.readuntil(b"\r\n\r\n")
        self.status = int(self.head.split(b" ")[1])
        self.headers = {}
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()
        return self

    async def read_frame(self):
        """Returns (opcode, payload) of the next frame from the server."""
        opcode, _, payload = await self.read_frame_with_rsv()
        return opcode, payload

    async def read_frame_with_rsv(self):
        """Returns (opcode, reserved bits, payload) of the next frame from the server."""
        b0, b1 = await self.reader.readexactly(2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return b0 & 0x0F, (b0 >> 4) & 0x7, await self.reader.readexactly(length)

    async def read_close(self):
        """Skips pings and returns (code, reason) of the server's close frame."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big"), payload[2:].decode()

    async def closed_by_server(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), timeout=5) == b""

    async def mebibytes_written_until_stalled(self, limit: int = 256, seconds: float = 5) -> int:
        """Sends 1 MiB binary messages until the socket stops taking them (a write waits 0.5 s),
        `limit` were sent, or `seconds` passed; returns how many went out."""
        import time

        message = frame(0x2, b"z" * (1 << 20))
        written = 0
        deadline = time.monotonic() + seconds
        while written < limit and time.monotonic() < deadline:
            self.writer.write(message)
            try:
                await asyncio.wait_for(self.writer.drain(), timeout=0.5)
            except asyncio.TimeoutError:
                break
            written += 1
        return written

    def send(self, data: bytes):
        self.writer.write(data)

    def close(self):
        self.writer.close()

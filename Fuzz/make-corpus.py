#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into Fuzz/corpus/TARGET/ (docs/fuzzing.md).

Run it again after changing it: `python3 Fuzz/make-corpus.py`. Each seed starts with the choice bytes
of its target (see the comment at the top of Fuzz/Targets/*/*.swift), then the data: valid frames
(masked text and binary, fragmented, ping, pong, close, 16- and 64-bit lengths), Autobahn-like cases
(the sections of the Autobahn TestSuite in small), upgrade requests, extension offers and compressed
messages. Files named finding-* are inputs the fuzzers found and stay. The YAML targets are seeded by
scripts/fuzz from the example and test files.
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length_form=None, key=KEY):
    """One frame; length_form forces the 16-bit (126) or 64-bit (127) length field."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    form = length_form or (0 if n < 126 else 126 if n <= 0xFFFF else 127)
    mask_bit = 0x80 if masked else 0
    if form == 0:
        head = bytes([first, mask_bit | n])
    elif form == 126:
        head = bytes([first, mask_bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close(code=None, reason=b"", **kw):
    payload = b"" if code is None else struct.pack(">H", code) + reason
    return frame(8, payload, **kw)


def deflate_messages(messages, reset=False, level=6):
    """Raw deflate per RFC 7692: sync flush, the trailing 00 00 FF FF removed."""
    out = []
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    for m in messages:
        if reset:
            comp = zlib.compressobj(level, zlib.DEFLATED, -15)
        data = comp.compress(m) + comp.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        out.append(data[:-4])
    return out


# Streams of client frames: (name, bytes).
text = b"Hello, wsgate"
utf8 = "κόσμε € 𝄞".encode()
STREAMS = [
    ("text-hello-rfc", bytes.fromhex("818537fa213d7f9f4d5158")),
    ("text", frame(1, text)),
    ("binary", frame(2, bytes(range(40)))),
    ("empty-text", frame(1)),
    ("text-125", frame(1, b"a" * 125)),
    ("text-126-16bit", frame(1, b"b" * 126)),
    ("binary-300-16bit", frame(2, bytes(i % 251 for i in range(300)))),
    ("binary-64bit-length", frame(2, b"xyz" * 10, length_form=127)),
    ("text-16bit-nonminimal", frame(1, b"short", length_form=126)),
    ("fragmented-text", frame(1, b"Hel", fin=False) + frame(0, b"lo, ", fin=False) + frame(0, b"world")),
    ("fragmented-with-ping", frame(1, b"frag", fin=False) + frame(9, b"ping") + frame(0, b"ment")),
    ("ping", frame(9, b"are you there")),
    ("ping-125", frame(9, b"p" * 125)),
    ("pong", frame(10, b"unsolicited")),
    ("close-1000", close(1000, b"bye")),
    ("close-empty", close()),
    ("text-then-close", frame(1, text) + close(1000)),
    ("utf8-text", frame(1, utf8)),
    ("utf8-split-in-fragments", frame(1, utf8[:3], fin=False) + frame(0, utf8[3:7], fin=False) + frame(0, utf8[7:])),
    # Autobahn-like failures (sections 2-7).
    ("2.5-ping-126", frame(9, b"p" * 126)),
    ("3.1-rsv1-text", frame(1, text, rsv=4)),
    ("3.4-rsv-on-ping", frame(9, b"x", rsv=6)),
    ("4.1-reserved-opcode-3", frame(3, b"?")),
    ("4.2-reserved-control-11", frame(11, b"?")),
    ("5.1-fragmented-ping", frame(9, b"a", fin=False) + frame(0, b"b")),
    ("5.9-continuation-without-start", frame(0, b"c")),
    ("5.18-text-inside-fragmented", frame(1, b"a", fin=False) + frame(1, b"b")),
    ("6.3-invalid-utf8", frame(1, bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564"))),
    ("6.x-overlong", frame(1, b"\xc0\xaf")),
    ("6.x-surrogate", frame(1, b"\xed\xa0\x80")),
    ("6.x-above-10ffff", frame(1, b"\xf4\x90\x80\x80")),
    ("6.x-truncated-at-end", frame(1, b"ok \xe2\x82")),
    ("7.3-close-one-byte", frame(8, b"\x03")),
    ("7.5-close-invalid-utf8-reason", close(1000, b"\xff\xfe")),
    ("7.9-close-code-999", close(999)),
    ("7.9-close-code-1005", close(1005)),
    ("7.9-close-code-1016", close(1016)),
    ("7.13-close-code-5000", close(5000)),
    ("7.7-close-code-4000", close(4000, b"app")),
    ("unmasked-client-frame", frame(1, text, masked=False)),
    ("length-msb-set", bytes([0x82, 0xFF]) + b"\x80" + b"\x00" * 7 + KEY),
    ("huge-length-claim", bytes([0x82, 0xFF]) + struct.pack(">Q", 8 << 30) + KEY + b"tiny"),
    ("9.x-fragmented-binary", b"".join(frame(0 if i else 2, bytes([i]) * 100, fin=(i == 9)) for i in range(10))),
]

REQUEST = (
    b"GET /echo HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
REQUESTS = [
    ("upgrade", REQUEST + b"\r\n"),
    ("upgrade-deflate", REQUEST + b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"),
    ("upgrade-origin-subprotocol", REQUEST + b"Origin: https://example.com\r\nSec-WebSocket-Protocol: v2.json, chat\r\n\r\n"),
    ("upgrade-other-origin", REQUEST + b"Origin: https://evil.example\r\n\r\n"),
    ("upgrade-then-frame", REQUEST + b"\r\n" + frame(1, text)),
    ("post", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
    ("http-1.0", b"GET /echo HTTP/1.0\r\nHost: x\r\n\r\n"),
    ("no-host", REQUEST.replace(b"Host: localhost:8080\r\n", b"") + b"\r\n"),
    ("bad-key", REQUEST.replace(b"dGhlIHNhbXBsZSBub25jZQ==", b"short") + b"\r\n"),
    ("two-keys", REQUEST + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
    ("version-8", REQUEST.replace(b"Version: 13", b"Version: 8") + b"\r\n"),
    ("leading-crlf", b"\r\n" + REQUEST + b"\r\n"),
    ("folded-header", REQUEST + b"X-Folded: a\r\n  b\r\n\r\n"),
    ("header-without-colon", REQUEST + b"NoColon\r\n\r\n"),
    ("healthz", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("head-healthz", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("not-found", b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("template-path", REQUEST.replace(b"/echo", b"/rooms/lobby?x=1") + b"\r\n"),
]

OFFERS = [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; server_max_window_bits=10; client_max_window_bits=\"8\"",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=15, permessage-deflate",
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=08",
    "permessage-deflate; unknown=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "foo; bar=\"b\\az\", baz\npermessage-deflate",
    "permessage-deflate;;",
    "PerMessage-Deflate; Client_Max_Window_Bits",
]


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def connection_records(data):
    """Records of the connection target: chunks of at most 240 bytes, each after (length - 1)."""
    out = b""
    for i in range(0, len(data), 240):
        chunk = data[i:i + 240]
        out += bytes([len(chunk) - 1]) + chunk
    return out


def main():
    # Seeds named finding-* are inputs the fuzzers found (docs/fuzzing.md): kept, never regenerated.
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.startswith("finding-"):
                os.remove(os.path.join(folder, name))
    for name, stream in STREAMS:
        # frames: flags, frame limit, message limit, split seed (2 bytes).
        write("frames", name, bytes([0x20, 0, 0, 0x12, 0x34]) + stream)
        # differential: flags (0x0C: UInt32.max frame limit), limit byte.
        write("differential", name, bytes([0x0C, 0]) + stream)
    write("frames", "small-limits-chunks-of-1", bytes([0x0C, 20, 30, 0, 7]) + STREAMS[9][1])
    write("frames", "rsv1-allowed", bytes([0x22, 0, 0, 0, 1]) + frame(1, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=4))
    write("frames", "client-role-unmasked", bytes([0x21, 0, 0, 0, 2]) + frame(1, text, masked=False) + close(1000, masked=False))
    write("differential", "client-role-unmasked", bytes([0x0D, 0]) + frame(1, text, masked=False))
    write("differential", "rsv1-allowed", bytes([0x0E, 0]) + frame(1, b"x", rsv=4) + frame(0, b"y", rsv=4))

    # inflate: flags, limit byte, messages (2-byte length + bytes).
    def inflate_seed(flags, limit, messages):
        return bytes([flags, limit]) + b"".join(struct.pack(">H", len(m)) + m for m in messages)

    plain = [b"Hello", b"Hello", b"Hello, Hello, Hello!", "κόσμε".encode() * 4, bytes(range(256))]
    write("inflate", "context-takeover", inflate_seed(0x18, 0, deflate_messages(plain)))
    write("inflate", "no-context-takeover", inflate_seed(0x19, 0, deflate_messages(plain, reset=True)))
    write("inflate", "stored-blocks", inflate_seed(0x00, 0, deflate_messages(plain, level=0)))
    write("inflate", "bomb-small-limit", inflate_seed(0x1A, 4, deflate_messages([b"\0" * 200_000])))
    write("inflate", "final-block", inflate_seed(0x18, 0, [zlib.compress(b"final block", 9)[2:-4]]))
    write("inflate", "garbage", inflate_seed(0x18, 0, [b"\xff\xff\xff\xff", b"\x00"]))

    for name, request in REQUESTS:
        write("http", name, bytes([0x0C, 0, 0x42, 0x42]) + request)
        write("connection", "request-" + name, b"\x00" + connection_records(request))
    write("http", "small-limit", bytes([0x01, 8, 0, 1]) + REQUESTS[0][1])
    write("http", "origin-policy", bytes([0x02, 0, 0, 1]) + REQUESTS[2][1])

    for i, offer in enumerate(OFFERS):
        write("extensions", f"offer-{i:02d}", b"\x00" + offer.encode())
    write("extensions", "configured-limits", bytes([0b01101011]) + OFFERS[2].encode())

    # connection: flags (bit 0: canned upgrade to /echo, bit 1: with deflate, bit 2: small limits).
    echo = frame(1, text) + frame(2, b"\x01\x02") + frame(9, b"ping") + close(1000, b"done")
    write("connection", "echo-and-close", b"\x01" + connection_records(echo))
    write("connection", "echo-small-limits", b"\x05" + connection_records(frame(2, b"z" * 1500) + close(1000)))
    write("connection", "fragmented", b"\x01" + connection_records(STREAMS[10][1] + close(1000)))
    write("connection", "invalid-utf8", b"\x01" + connection_records(STREAMS[27][1]))
    write("connection", "keepalive-timeout", b"\x01" + connection_records(frame(1, text)) + b"\xff\xff\xff")
    write("connection", "peer-goes-away", b"\x01" + connection_records(frame(1, text)) + b"\xf0")
    compressed = deflate_messages([b"compressed hello " * 4, b"compressed hello " * 4])
    write("connection", "deflate-echo",
          b"\x03" + connection_records(b"".join(frame(1, m, rsv=4) for m in compressed) + close(1000)))


if __name__ == "__main__":
    main()

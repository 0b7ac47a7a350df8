"""Plain HTTP over one raw socket: several requests on a connection, read back by Content-Length."""
import socket


class HTTPConnection:
    def __init__(self, port: int, timeout: float = 5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def send(self, data: bytes):
        self.sock.sendall(data)

    def request(self, path: str, method: str = "GET", headers: str = "", version: str = "HTTP/1.1"):
        self.send(f"{method} {path} {version}\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        return self.response(head=method == "HEAD")

    def response(self, head: bool = False):
        """(status, headers with lowercased names, body bytes) of the next response."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw_head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head or status in (101, 304) else int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed_by_server(self) -> bool:
        """Whether the server closes its side (within the socket timeout)."""
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-response")
        self.buffer += chunk

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

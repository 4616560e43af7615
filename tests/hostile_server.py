"""A hostile web server on 127.0.0.1, speaking raw bytes so it can break HTTP's rules:
thousands of headers, a megabyte header line, stacked encodings, a decompression bomb,
a reset in the middle of the body, a body that trickles, a body far over the cap, a page
that hangs (`/hang`) or hangs at its first request only (`/hang-once?...`).

    with HostileServer() as server:
        server.url("/bomb")
"""
from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib

BOMB_EXPANDED = 2 * 1024**3          # what the bomb inflates to: 2 GiB of zeros
OVERSIZE_BYTES = 8 * 1024 * 1024     # the body sent by /oversize


def _bomb() -> bytes:
    """A gzip stream of BOMB_EXPANDED zero bytes, built in pieces (about 2 MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk, parts = b"\0" * (1024 * 1024), []
    for _ in range(BOMB_EXPANDED // len(chunk)):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def _head(status: str = "200 OK", headers: list[tuple[str, str]] = (), length: int | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Content-Type: text/html; charset=utf-8", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


PAGE = b"<html><head><title>Hostile</title></head><body><p>" + b"Ordinary words. " * 40 + b"</p></body></html>"


class HostileServer:
    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._bomb_bytes = b""
        self._bomb_ready = threading.Event()     # built in the background: it takes seconds
        self._bomb_started = False
        self.seen: dict[str, int] = {}      # requests per path, query included
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def allow(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "HostileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            request = conn.recv(65536).decode("latin-1")
            target = request.split(" ", 2)[1] if request.count(" ") >= 2 else "/"
            with self._lock:
                self.seen[target] = self.seen.get(target, 0) + 1
                count = self.seen[target]
            path = target.split("?", 1)[0]
            if path == "/hang" or (path == "/hang-once" and count == 1):
                time.sleep(60)      # answers nothing: the capture is killed or times out
                return
            getattr(self, "_" + path.strip("/").replace("-", "_"), self._ordinary)(conn)
        except OSError:
            pass            # the client gave up first: that is what some of these are for
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _ordinary(self, conn) -> None:
        conn.sendall(_head(length=len(PAGE)) + PAGE)

    def _many_headers(self, conn) -> None:
        headers = [(f"X-Filler-{i}", "x" * 20) for i in range(5000)]
        conn.sendall(_head(headers=headers, length=len(PAGE)) + PAGE)

    def _long_header(self, conn) -> None:
        conn.sendall(_head(headers=[("X-Long", "y" * (1024 * 1024))], length=len(PAGE)) + PAGE)

    def _three_encodings(self, conn) -> None:
        body = gzip.compress(gzip.compress(gzip.compress(PAGE)))
        conn.sendall(_head(headers=[("Content-Encoding", "gzip, gzip, gzip")], length=len(body)) + body)

    def wait_for_bomb(self, timeout: float = 120) -> None:
        """Build the bomb (seconds of CPU, so only for the tests that ask) and wait for it."""
        with self._lock:
            if not self._bomb_started:
                self._bomb_started = True
                threading.Thread(target=self._build_bomb, daemon=True).start()
        if not self._bomb_ready.wait(timeout):
            raise RuntimeError("the decompression bomb was not built in time")

    def _build_bomb(self) -> None:
        self._bomb_bytes = _bomb()
        self._bomb_ready.set()

    def _bomb(self, conn) -> None:
        self.wait_for_bomb()
        body = self._bomb_bytes
        conn.sendall(_head(headers=[("Content-Encoding", "gzip")], length=len(body)) + body)

    def _reset_mid_body(self, conn) -> None:
        conn.sendall(_head(length=1_000_000) + PAGE[:2000])
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    def _trickle(self, conn) -> None:
        conn.sendall(_head(length=10_000))
        for _ in range(10_000):
            conn.sendall(b"z")
            time.sleep(2)

    def _oversize(self, conn) -> None:
        conn.sendall(_head(length=OVERSIZE_BYTES))
        block = b"<p>" + b"a" * 1021 + b"</p>"
        for _ in range(OVERSIZE_BYTES // len(block)):
            conn.sendall(block)

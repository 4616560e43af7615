"""Connections that go to a checked address and record the exact bytes of an exchange.

`PinnedAdapter` is a `requests` transport adapter for one hop: its connections
connect to the address the guard checked (no second DNS lookup), while the Host
header, TLS SNI and certificate hostname checks keep using the URL's host name.
Once connected (after the TLS handshake), the socket is wrapped in a `TapSocket`
that copies what is sent and what the HTTP parser reads off the connection into a
`Tap`. Nothing is patched globally: only these connections are recorded.

A connection records into the Tap its `TapSlot` holds: one Tap per exchange. Inside
`kept_connections()` (archiver/fetch/connections.py) a connection left open after a
complete response is reused by the next exchange with the same checked address, and the
slot is given that exchange's Tap, with the peer and TLS facts of the connection.

The `Tap` also enforces the total deadline: every read from the socket waits at
most for the read timeout or the time left, whichever is shorter.
"""
from __future__ import annotations

import functools
import os
import socket
import ssl
import tempfile
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from archiver.fetch.guard import Target

if TYPE_CHECKING:
    from archiver.fetch.connections import KeptConnections

SPOOL_MAX_MEMORY = 1024 * 1024
# Every request is tried once: a hop is never silently repeated (fetcher.py decides when
# a parked connection's failure is asked again). Retry objects are not changed by use.
NO_RETRIES = Retry(total=0, connect=0, read=0, redirect=False, status=0, other=0,
                   raise_on_redirect=False)


class Deadline:
    """A point in time (monotonic clock) after which the fetch stops waiting."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self.ends_at = clock() + seconds

    def remaining(self) -> float:
        return self.ends_at - self._clock()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0


class DeadlineExceeded(TimeoutError):
    """Raised from a socket read when the total deadline has passed."""


class Tap:
    """What one hop's connection sent and received, and what was learnt on the way."""

    def __init__(self, deadline: Deadline):
        self.deadline = deadline
        self.sent = bytearray()
        self.received = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)
        self.received_length = 0
        self.read_timeout: float | None = None
        self.deadline_hit = False
        self.peer: tuple[str, int] | None = None
        self.tls: dict[str, Any] | None = None
        # bytes the server sent past the end of the response: the connection is not reused
        self.surplus = False

    def record_sent(self, data) -> None:
        self.sent += data

    def record_received(self, data) -> None:
        if data:
            self.received.write(data)
            self.received_length += len(data)

    def wait_time(self) -> float:
        """How long the next socket read may block."""
        left = self.deadline.remaining()
        if left <= 0:
            self.deadline_hit = True
            raise DeadlineExceeded(f"the total deadline of {self.deadline.seconds:g} s has passed")
        if self.read_timeout is None:
            return left
        return min(self.read_timeout, left)

    def connected(self, sock) -> None:
        try:
            peer = sock.getpeername()
            self.peer = (peer[0], peer[1])
        except OSError:
            pass
        if isinstance(sock, ssl.SSLSocket):
            self.tls = {
                "version": sock.version() or "",
                "cipher": (sock.cipher() or ("",))[0],
                "cert_der": sock.getpeercert(binary_form=True),
            }


class _RecordingReader:
    """The file the HTTP parser reads the response from; records every byte it hands out.

    Recording what the parser consumed (rather than whatever the kernel delivered) keeps
    the recorded response aligned with the message when reading stops early. Bytes are
    recorded as soon as they are handed out, so what arrived before a timeout is kept.
    Every socket read waits at most the read timeout or the time left before the total
    deadline, whichever is shorter.
    """

    _RECV_SIZE = 64 * 1024

    def __init__(self, sock, tap: Tap):
        self._sock = sock
        self._io = sock.makefile("rb", buffering=0)   # holds a reference: see socket.makefile
        self._tap = tap
        # The bytes of the last socket read(s) and how far the parser has consumed them:
        # a part handed out is a slice, or the very chunk when it is wanted whole.
        self._chunk = b""
        self._pos = 0
        self._eof = False
        self._timed_out = False
        self.closed = False

    def _fill(self) -> bool:
        """One read from the socket, added to what is left unread; False at end of stream."""
        if self._eof:
            return False
        if self.closed or self._timed_out:     # as socket.SocketIO refuses it
            raise (ValueError("I/O operation on closed file.") if self.closed
                   else OSError("cannot read from timed out object"))
        self._sock.settimeout(self._tap.wait_time())
        try:
            data = self._sock.recv(self._RECV_SIZE)
        except TimeoutError:
            self._timed_out = True
            if self._tap.deadline.passed:
                self._tap.deadline_hit = True
                raise DeadlineExceeded(
                    f"the total deadline of {self._tap.deadline.seconds:g} s has passed") from None
            raise
        if not data:
            self._eof = True
            return False
        if self._pos < len(self._chunk):
            data = self._chunk[self._pos:] + data
        self._chunk, self._pos = data, 0
        return True

    def _available(self) -> int:
        return len(self._chunk) - self._pos

    def _take(self, n: int) -> bytes:
        start = self._pos
        if start == 0 and n >= len(self._chunk):
            data = self._chunk
        else:
            data = self._chunk[start:start + n]
        self._pos = start + len(data)
        self._tap.record_received(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        if not self._available():
            self._fill()
        return self._take(self._available() if size is None or size < 0 else size)

    def read(self, size: int | None = -1) -> bytes:
        pieces = []
        want = -1 if size is None or size < 0 else size
        while want != 0:
            if self._available():
                piece = self._take(self._available() if want < 0 else want)
                pieces.append(piece)
                if want > 0:
                    want -= len(piece)
                continue
            if not self._fill():
                break
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None or size < 0 else size
        while True:
            end = self._chunk.find(b"\n", self._pos)
            if end >= 0 and (limit < 0 or end - self._pos < limit):
                return self._take(end + 1 - self._pos)
            if limit >= 0 and self._available() >= limit:
                return self._take(limit)
            if not self._fill():
                return self._take(self._available())

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def readinto1(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read1(len(view))
        view[:len(data)] = data
        return len(data)

    def peek(self, size: int = 0) -> bytes:
        if not self._available():
            self._fill()
        return self._chunk[self._pos:]

    def readable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._available():
                self._tap.surplus = True
            self._io.close()

    def __iter__(self):
        return iter(self.readline, b"")


class TapSlot:
    """The Tap a pooled connection records into, and what its connection was when made.

    `connects` counts the connections made through the slot: an exchange that leaves it
    unchanged went over a connection an earlier exchange opened."""

    def __init__(self, tap: Tap):
        self.tap = tap
        self.connects = 0
        self.peer: tuple[str, int] | None = None
        self.tls: dict[str, Any] | None = None

    def use(self, tap: Tap) -> None:
        """Record the next exchange into `tap`; a reused connection's facts go with it."""
        tap.peer, tap.tls = self.peer, self.tls
        self.tap = tap

    def connected(self, sock) -> None:
        self.connects += 1
        self.tap.connected(sock)
        self.peer, self.tls = self.tap.peer, self.tap.tls


class TapSocket:
    """A connected (possibly TLS) socket whose traffic is copied into its slot's Tap."""

    def __init__(self, sock, slot: TapSlot):
        self._sock = sock
        self._slot = slot

    def sendall(self, data, *args):
        self._slot.tap.record_sent(data)
        return self._sock.sendall(data, *args)

    def send(self, data, *args):
        sent = self._sock.send(data, *args)
        self._slot.tap.record_sent(memoryview(data)[:sent])
        return sent

    def makefile(self, mode: str = "r", *args, **kwargs):
        # http.client asks for a new file for each response
        if mode != "rb":
            raise ValueError(f"TapSocket.makefile supports mode 'rb' only, not {mode!r}")
        return _RecordingReader(self._sock, self._slot.tap)

    def settimeout(self, value) -> None:
        # urllib3 sets the read timeout here before reading the response; remember it
        # so that reads can also respect the total deadline.
        self._slot.tap.read_timeout = value
        self._sock.settimeout(value)

    def recv(self, *args):
        raise NotImplementedError("responses are read through makefile(), which records them")

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class _PinnedMixin:
    """Connect to the checked address; record the traffic once connected."""

    target: Target
    slot: TapSlot

    @property
    def tap(self) -> Tap:
        return self.slot.tap

    def _new_conn(self) -> socket.socket:
        """Connect to the checked addresses in turn (no DNS here), the first that answers."""
        target = self.target
        candidates = target.candidates or ((target.family, target.address, target.sockaddr),)
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        failure: Exception | None = None
        for family, address, sockaddr in candidates:
            wait = timeout
            left = self.tap.deadline.remaining()
            if wait is None or left < wait:
                wait = max(left, 0.001)
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(wait)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                failure = ConnectTimeoutError(
                    self, f"no connection to {address} port {target.port} within {wait:g} s")
                failure.__cause__ = exc
            except OSError as exc:
                sock.close()
                failure = NewConnectionError(
                    self, f"could not connect to {address} port {target.port}: {exc}")
                failure.__cause__ = exc
            if self.tap.deadline.passed:
                break
        assert failure is not None
        raise failure

    def connect(self) -> None:
        super().connect()                              # type: ignore[misc]
        self.slot.connected(self.sock)
        self.sock = TapSocket(self.sock, self.slot)


class PinnedHTTPConnection(_PinnedMixin, HTTPConnection):
    def __init__(self, *args, target: Target, slot: TapSlot, **kwargs):
        super().__init__(*args, **kwargs)
        self.target, self.slot = target, slot


class PinnedHTTPSConnection(_PinnedMixin, HTTPSConnection):
    def __init__(self, *args, target: Target, slot: TapSlot, **kwargs):
        super().__init__(*args, **kwargs)
        self.target, self.slot = target, slot


@functools.lru_cache(maxsize=8)
def verifying_context(ca_certs: str | None, ca_cert_dir: str | None) -> ssl.SSLContext:
    """The TLS context urllib3 builds for a connection that verifies the certificate and
    host name, with these CAs trusted. Loading a CA bundle costs tens of milliseconds of
    CPU (OpenSSL 3); urllib3 would build a context and load the bundle for every new
    connection. urllib3 sets the same verify mode and ALPN on it for each connection."""
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    context.load_verify_locations(ca_certs and os.path.expanduser(ca_certs),
                                  ca_cert_dir and os.path.expanduser(ca_cert_dir))
    return context


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A transport adapter for a single hop to one checked target.

    With `kept` (archiver/fetch/connections.py), a pool left by an earlier exchange with
    the same checked address is taken from there, and `close(reusable=True)` parks this
    one's pool there again instead of closing its connection."""

    def __init__(self, target: Target, tap: Tap, kept: "KeptConnections | None" = None):
        self.target, self.tap, self.kept = target, tap, kept
        self._pools: list[tuple[tuple, HTTPConnectionPool]] = []
        self._slot: TapSlot | None = None
        self._connects_before = 0
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=NO_RETRIES)

    def init_poolmanager(self, *args, **kwargs) -> None:
        """No PoolManager: get_connection_with_tls_context hands out this adapter's own
        pinned pools, so one built for every hop would only be thrown away."""
        self.poolmanager = None

    def request_url(self, request, proxies) -> str:
        """Without proxies (the fetcher passes none) the request target is the URL's path
        and query; requests' own way parses the URL twice more to find no proxy."""
        if proxies:
            return super().request_url(request, proxies)
        return request.path_url

    def cert_verify(self, conn, url: str, verify, cert) -> None:
        """requests' settings for checking the server's certificate, with the trusted CAs
        in a TLS context built once instead of loaded again for each new connection."""
        super().cert_verify(conn, url, verify, cert)
        if (isinstance(conn, HTTPSConnectionPool) and conn.cert_reqs == "CERT_REQUIRED"
                and (conn.ca_certs or conn.ca_cert_dir)):
            conn.conn_kw["ssl_context"] = verifying_context(conn.ca_certs, conn.ca_cert_dir)
            conn.ca_certs = conn.ca_cert_dir = None

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        parts = urlsplit(request.url)
        key = (parts.scheme, parts.hostname, self.target.port, self.target.address,
               tuple(c[1] for c in self.target.candidates or ()), repr(verify), repr(cert))
        pool = self.kept.take(key) if self.kept is not None else None
        if pool is not None:
            pool.slot.use(self.tap)
        else:
            pool_cls = _PinnedHTTPSPool if parts.scheme == "https" else _PinnedHTTPPool
            # The URL's host name as written: it goes into the Host header, SNI and the
            # certificate check. The address connected to is the target's, checked before.
            slot = TapSlot(self.tap)
            pool = pool_cls(host=parts.hostname, port=self.target.port, maxsize=1, block=False,
                            target=self.target, slot=slot)
            pool.slot = slot
        self._slot, self._connects_before = pool.slot, pool.slot.connects
        self._pools.append((key, pool))
        return pool

    @property
    def reused(self) -> bool:
        """Whether the exchange went over a connection an earlier exchange had opened."""
        return self._slot is not None and self._slot.connects == self._connects_before

    def close(self, reusable: bool = False) -> None:
        for key, pool in self._pools:
            if reusable and self.kept is not None:
                self.kept.park(key, pool)
            else:
                pool.close()
        self._pools.clear()

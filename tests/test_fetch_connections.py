"""Connections kept open between the fetches of a batch (archiver/fetch/connections.py),
against a real loopback server that counts the connections it accepts."""
from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from archiver.fetch import fetch, kept_connections
from archiver.fetch.connections import KeptConnections
from tests.netguard import resolver_for
from tests.test_fetch import TLS_NAME, make_settings, payload_bytes, response_bytes, tls_site  # noqa: F401

PAGES = {f"/page/{n}": (f"<html><body><h1>Page {n}</h1>" + "<p>text</p>" * (50 * n) + "</body></html>").encode()
         for n in range(1, 6)}


class CountingServer(ThreadingHTTPServer):
    """HTTP/1.1 with keep-alive; notes each request's connection (its client port)."""
    daemon_threads = True
    block_on_close = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.seen: list[tuple[int, str]] = []       # (client port, path) per request
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def connections(self) -> int:
        return len({client for client, _path in self.seen})

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: CountingServer

    def log_message(self, *_args):
        pass

    def do_GET(self):  # noqa: N802
        with self.server.lock:
            earlier = sum(1 for client, _ in self.server.seen if client == self.client_address[1])
            self.server.seen.append((self.client_address[1], self.path))
        if self.path == "/drop-second" and earlier:
            # the server gave up on this connection: it closes it without an answer
            self.close_connection = True
            return
        if self.path == "/redirect":
            return self._send(302, b"moved", [("Location", "/page/1")])
        if self.path == "/close":
            return self._send(200, PAGES["/page/1"], [("Connection", "close")])
        if self.path == "/host":
            return self._send(200, self.headers["Host"].encode())
        if self.path == "/set-cookie":
            return self._send(302, b"moved", [("Location", "/cookie"), ("Set-Cookie", "sid=abc; Path=/")])
        if self.path == "/cookie":
            return self._send(200, (self.headers["Cookie"] or "no cookie").encode())
        self._send(200, PAGES.get(self.path.replace("/drop-second", "/page/1"), b"missing"))

    def _send(self, status: int, body: bytes, extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        if ("Connection", "close") in extra:
            self.close_connection = True


@pytest.fixture
def server():
    srv = CountingServer()
    yield srv
    srv.stop()


@pytest.fixture
def settings(server):
    return make_settings(f"127.0.0.1:{server.port}")


_open_results: list = []


@pytest.fixture(autouse=True)
def _close_results():
    yield
    while _open_results:
        _open_results.pop().close()


def fetch_one(url, settings, **kwargs):
    result = fetch(url, settings, **kwargs)
    _open_results.append(result)
    return result


def fetch_all(urls, settings, **kwargs):
    results = [fetch_one(url, settings, **kwargs) for url in urls]
    for result in results:
        assert result.ok, result.error
    return results


def test_fetches_in_the_block_share_one_connection_and_keep_exact_bytes(server, settings):
    paths = sorted(PAGES)
    with kept_connections():
        results = fetch_all([server.url(p) for p in paths], settings)
    assert server.connections == 1 and [p for _, p in server.seen] == paths
    reused = [r.final.connection_reused for r in results]
    assert reused == [False, True, True, True, True]
    for path, result in zip(paths, results):
        ex = result.final
        assert payload_bytes(ex) == PAGES[path]
        assert response_bytes(ex).endswith(b"\r\n\r\n" + PAGES[path])
        assert ex.request_bytes.startswith(f"GET {path} HTTP/1.1\r\n".encode())
        assert b"Connection: close" not in ex.request_bytes
        assert (ex.ip, ex.port) == ("127.0.0.1", server.port)


def test_outside_the_block_each_fetch_asks_for_close_and_connects_anew(server, settings):
    results = fetch_all([server.url(p) for p in sorted(PAGES)], settings)
    assert server.connections == len(PAGES)
    assert all(b"\r\nConnection: close\r\n" in r.final.request_bytes for r in results)
    assert not any(r.final.connection_reused for r in results)


def test_nothing_stays_open_after_the_block(server, settings):
    with kept_connections() as kept:
        fetch_all([server.url("/page/1")], settings)
        assert len(kept) == 1                     # parked while the block runs
    assert len(kept) == 0
    fetch_all([server.url("/page/2")], settings)   # a new block, a new connection
    assert server.connections == 2


def test_a_workers_connections_outlive_the_block_until_idle_too_long(server, settings):
    now = [0.0]
    kept = KeptConnections(idle_seconds=4.0, clock=lambda: now[0])
    try:
        with kept_connections(kept):
            fetch_all([server.url("/page/1")], settings)
        assert len(kept) == 1                      # still parked after the block
        with kept_connections(kept):
            now[0] = 3.9
            second, = fetch_all([server.url("/page/2")], settings)
            now[0] = 3.9 + 4.1                     # idle for longer than 4 s: closed, not reused
            third, = fetch_all([server.url("/page/3")], settings)
        assert second.final.connection_reused and not third.final.connection_reused
        assert server.connections == 2
    finally:
        kept.close()
    assert len(kept) == 0


def test_past_the_limit_the_oldest_parked_connection_is_closed(server):
    names = ["a.test", "b.test", "c.test"]
    resolver = resolver_for({name: "127.0.0.1" for name in names})
    settings = make_settings(*(f"{name}:{server.port}" for name in names))
    with kept_connections(KeptConnections(max_parked=2)) as kept:
        fetch_all([f"http://{name}:{server.port}/page/1" for name in names], settings, resolver=resolver)
        assert len(kept) == 2
        again = fetch_all([f"http://{name}:{server.port}/page/2" for name in ("c.test", "a.test")],
                          settings, resolver=resolver)
        kept.close()
    assert [r.final.connection_reused for r in again] == [True, False]
    assert server.connections == 4


def test_redirect_hops_to_the_same_host_go_over_one_connection(server, settings):
    with kept_connections():
        result, = fetch_all([server.url("/redirect")], settings)
    assert [ex.status for ex in result.exchanges] == [302, 200]
    assert [ex.connection_reused for ex in result.exchanges] == [False, True]
    assert payload_bytes(result.final) == PAGES["/page/1"] and server.connections == 1


def test_a_connection_the_server_drops_is_asked_again_on_a_new_one(server, settings):
    with kept_connections():
        first, second = fetch_all([server.url("/page/1"), server.url("/drop-second")], settings)
    # the request on the dropped connection got no answer: it is not an exchange
    assert len(second.exchanges) == 1 and not second.final.connection_reused
    assert payload_bytes(second.final) == PAGES["/page/1"]
    assert [p for _, p in server.seen] == ["/page/1", "/drop-second", "/drop-second"]
    assert server.connections == 2


def test_a_server_that_says_close_gets_a_new_connection_next(server, settings):
    with kept_connections():
        results = fetch_all([server.url("/close"), server.url("/page/2"), server.url("/page/3")], settings)
    assert [r.final.connection_reused for r in results] == [False, False, True]
    assert server.connections == 2


def test_a_response_cut_at_the_size_cap_leaves_its_connection_closed(server):
    capped = make_settings(f"127.0.0.1:{server.port}", max_body_bytes=100)
    with kept_connections():
        first, second = (fetch_one(server.url(p), capped) for p in ("/page/5", "/page/4"))
    assert first.final.truncated == "length" and second.final.truncated == "length"
    assert not second.final.connection_reused and server.connections == 2


def test_each_host_name_has_its_own_connection(server):
    names = ["a.test", "b.test"]
    resolver = resolver_for({name: "127.0.0.1" for name in names})
    settings = make_settings(*(f"{name}:{server.port}" for name in names))
    urls = [f"http://{name}:{server.port}/host" for name in names * 2]
    with kept_connections():
        results = fetch_all(urls, settings, resolver=resolver)
    assert [payload_bytes(r.final) for r in results] == [f"{n}:{server.port}".encode() for n in names * 2]
    assert [r.final.connection_reused for r in results] == [False, False, True, True]
    assert server.connections == 2


def test_the_guard_still_judges_a_host_with_a_parked_connection(server, settings):
    with kept_connections():
        fetch_all([server.url("/page/1")], settings)
        refused = fetch_one(server.url("/page/2"), make_settings("127.0.0.1:1"))
    assert refused.error_code == "refused_address" and refused.exchanges == []
    assert [p for _, p in server.seen] == ["/page/1"]


def test_a_reused_tls_connection_keeps_its_certificate_facts(tls_site):  # noqa: F811
    settings = make_settings(f"{TLS_NAME}:{tls_site.port}")
    resolver = resolver_for({TLS_NAME: "127.0.0.1"})
    handshakes = len(tls_site.server_names)
    with kept_connections():
        results = fetch_all([f"https://{TLS_NAME}:{tls_site.port}/article"] * 3, settings,
                            resolver=resolver, ca_bundle=tls_site.ca_file)
    assert len(tls_site.server_names) == handshakes + 1          # one TLS handshake for three
    assert [r.final.connection_reused for r in results] == [False, True, True]
    first = results[0].final.tls
    assert first is not None and first.cert_sha256
    for result in results[1:]:
        assert result.final.tls == first
        assert payload_bytes(result.final) == tls_site.article


@pytest.mark.parametrize("keep", [False, True])
def test_cookies_set_on_a_hop_go_to_the_later_hops_of_that_fetch_only(server, settings, keep):
    with kept_connections() if keep else contextlib.nullcontext():
        chain, later = fetch_all([server.url("/set-cookie"), server.url("/cookie")], settings)
    assert [ex.status for ex in chain.exchanges] == [302, 200]
    assert b"\r\nCookie: sid=abc\r\n" in chain.final.request_bytes
    assert payload_bytes(chain.final) == b"sid=abc"
    assert payload_bytes(later.final) == b"no cookie"      # a new fetch starts without cookies

"""The fetcher's shortcuts against the libraries' own ways, over many inputs.

Each shortcut skips work that requests, urllib3 or the standard library would do for
every hop; each test here checks that the shortcut gives what the library's way gives.
"""
from __future__ import annotations

import hashlib
import http.client
import io
import ipaddress
import random
import socket
import ssl
import tempfile
from datetime import datetime, timezone

import pytest
import requests
import urllib3
from cryptography import x509
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar

from archiver import urls
from archiver.fetch import fetch, fetcher, guard, message, tlsinfo, wire
from archiver.fetch.guard import Target
from archiver.fetch.types import TLSInfo
from archiver.fetch.wire import Deadline, PinnedAdapter, Tap, _RecordingReader
from tests.netguard import resolver_for
from tests.test_fetch import TLS_NAME, make_settings, tls_site  # noqa: F401

URLS = [
    "http://example.org/",
    "http://example.org/a/b?c=d&e=f",
    "https://example.org:8443/p;x=1?q",
    "http://127.0.0.1:8080/article/1?r=0",
    "http://[2001:db8::1]/x?y=%20z",
    "http://example.org/%7Efoo/bar%2F?",
    "http://example.org/a?",
    "http://xn--bcher-kva.example/b%C3%BCcher",
    "http://example.org//double//slash",
]


def _target() -> Target:
    return Target(host="example.org", port=80, address="192.0.2.1", family=socket.AF_INET,
                  sockaddr=("192.0.2.1", 80))


@pytest.fixture
def adapter():
    tap = Tap(Deadline(5))
    adapter = PinnedAdapter(_target(), tap)
    yield adapter
    adapter.close()
    tap.received.close()


@pytest.mark.parametrize("url", URLS)
def test_request_target_is_what_requests_would_send(adapter, url):
    prepared = requests.Request("GET", url).prepare()
    assert adapter.request_url(prepared, None) == HTTPAdapter().request_url(prepared, None)
    assert adapter.request_url(prepared, {}) == HTTPAdapter().request_url(prepared, {})


def test_a_proxy_still_goes_through_requests_own_way(adapter):
    prepared = requests.Request("GET", "http://example.org/a?b").prepare()
    proxies = {"http": "http://proxy.example:3128"}
    assert adapter.request_url(prepared, proxies) == HTTPAdapter().request_url(prepared, proxies)


def test_the_adapter_builds_no_pool_manager_and_closes_its_own_pools(adapter):
    assert adapter.poolmanager is None
    pool = adapter.get_connection_with_tls_context(
        requests.Request("GET", "http://example.org/").prepare(), True)
    adapter.close()
    assert pool.pool is None          # urllib3 empties a closed pool
    assert adapter.max_retries.total == 0 and adapter.max_retries.connect == 0


class _ChunkedSocket:
    """A socket whose reads return the given pieces in turn, then end of stream."""

    def __init__(self, pieces: list[bytes]):
        self.pieces = list(pieces)

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > size:
            piece, rest = piece[:size], piece[size:]
            self.pieces.insert(0, rest)
        return piece

    def settimeout(self, _value) -> None:
        pass

    def makefile(self, *_args, **_kwargs):
        return io.BytesIO()


def _random_pieces(rng: random.Random, data: bytes) -> list[bytes]:
    pieces, at = [], 0
    while at < len(data):
        size = rng.choice([1, 2, 3, 7, 50, 500, 4096, 70000])
        pieces.append(data[at:at + size])
        at += size
    return pieces


def _random_message(rng: random.Random) -> bytes:
    lines = [b"HTTP/1.1 200 OK\r\n"] + [
        b"X-%d: %s\r\n" % (n, b"v" * rng.randrange(0, 300)) for n in range(rng.randrange(0, 12))]
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000))) * rng.choice([1, 40])
    return b"".join(lines) + b"\r\n" + body


@pytest.mark.parametrize("seed", range(300))
def test_the_recording_reader_reads_as_a_buffered_file_and_records_what_it_hands_out(seed):
    rng = random.Random(seed)
    data = _random_message(rng)
    tap = Tap(Deadline(60))
    reader = _RecordingReader(_ChunkedSocket(_random_pieces(rng, data)), tap)
    reference = io.BytesIO(data)
    handed_out = bytearray()
    try:
        for _ in range(60):
            op = rng.choice(["line", "line_limit", "read", "readinto", "read1", "peek"])
            if op == "line":
                got, want = reader.readline(), reference.readline()
            elif op == "line_limit":
                limit = rng.choice([0, 1, 5, 100, 70000])
                got, want = reader.readline(limit), reference.readline(limit)
            elif op == "read":
                size = rng.choice([0, 1, 10, 999, 65536, 200000])
                got, want = reader.read(size), reference.read(size)
            elif op == "readinto":
                buffer = bytearray(rng.choice([1, 100, 70000]))
                count = reader.readinto(buffer)
                got, want = bytes(buffer[:count]), reference.read(len(buffer))
            elif op == "read1":
                got = reader.read1(rng.choice([-1, 1, 300]))
                want = reference.read(len(got))
            else:
                peeked = reader.peek()
                assert data[reference.tell():].startswith(peeked)
                continue
            assert got == want
            handed_out += got
        handed_out += reader.read()
        assert bytes(handed_out) == data[:len(handed_out)] and len(handed_out) == len(data)
        tap.received.seek(0)
        assert tap.received.read() == data and tap.received_length == len(data)
    finally:
        reader.close()
        tap.received.close()


def test_bytes_left_unread_at_close_mark_the_connection_as_not_reusable():
    tap = Tap(Deadline(60))
    reader = _RecordingReader(_ChunkedSocket([b"HTTP/1.1 200 OK\r\n\r\nextra"]), tap)
    assert reader.readline() == b"HTTP/1.1 200 OK\r\n"
    assert reader.readline() == b"\r\n"
    reader.close()
    assert tap.surplus
    tap.received.seek(0)
    assert tap.received.read() == b"HTTP/1.1 200 OK\r\n\r\n"
    tap.received.close()


def test_after_a_timeout_the_reader_refuses_to_read_as_a_socket_file_does():
    class SlowSocket(_ChunkedSocket):
        def recv(self, size):
            raise TimeoutError("timed out")

    tap = Tap(Deadline(60))
    reader = _RecordingReader(SlowSocket([]), tap)
    with pytest.raises(TimeoutError):
        reader.readline()
    with pytest.raises(OSError, match="timed out object"):
        reader.read(10)
    reader.close()
    with pytest.raises(ValueError, match="closed file"):
        reader.read(10)
    tap.received.close()


# --- archiver/urls.py: the common case of a URL checked without a loop per character ----

_ODD_CHARACTERS = [chr(c) for c in range(0x300)] + [
    "\u1680", "\u180e", "\u2000", "\u200b", "\u2028", "\u2029", "\u202f", "\u205f",
    "\u3000", "\ufeff", "\ufffd", "\U0001f600", "\udc80", "é", "ü", "中"]


@pytest.mark.parametrize("ch", _ODD_CHARACTERS, ids=lambda ch: f"U+{ord(ch):04X}")
def test_a_url_is_refused_for_a_space_or_control_exactly_when_the_rule_says(ch):
    url = f"http://example.org/a{ch}b?c{ch}d"
    if urls._space_or_control(ch):
        with pytest.raises(urls.InvalidURL, match="space or control character"):
            urls.normalize_submitted_url(url)
    else:
        urls._refuse_spaces_and_controls(url)      # no error


def test_requoting_gives_what_the_loop_per_character_gives():
    rng = random.Random(7)
    alphabet = list("azAZ09-._~!$&'()*+,/:;=@[]?%#<>\"{}|^` ") + ["é", "\u2028", "2F", "7e", "%4"]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 20)))
        for safe in (urls._PATH_SAFE, urls._QUERY_SAFE):
            assert urls._requote(text, safe) == urls._requote_each(text, safe)


@pytest.mark.parametrize("name", ["example.org", "EXAMPLE.org", "ex_ample.org", "ex!ample.org",
                                  "ex ample.org", "a..b", "xn--bcher-kva.example", "bücher.example"])
def test_host_names_are_judged_as_before(name):
    bad = sorted({c for c in name.lower() if c not in urls._HOST_CHARS}) if name.isascii() else []
    if bad:
        with pytest.raises(urls.InvalidURL, match="not allowed in host names"):
            urls._host_name(name)
    else:
        try:
            urls._host_name(name)
        except urls.InvalidURL as exc:
            assert "not allowed in host names" not in str(exc)


# --- archiver/fetch/guard.py: parses and judgements worked out once ------------------------

def _check_host_as_before(host, port, allow=frozenset(), resolver=None):
    """check_host as it was before its parses and judgements were cached."""
    written = host.strip("[]").lower().rstrip(".")
    try:
        literal = ipaddress.ip_address(written)
    except ValueError:
        literal = None
    key_host = literal.compressed if literal is not None else written
    allowed = (key_host, port) in {(h.strip("[]").lower().rstrip("."), p) for h, p in allow}
    if literal is not None:
        text = literal.compressed
        infos = [(guard._family(literal), text, (text, port, 0, 0) if literal.version == 6 else (text, port))]
    else:
        infos = guard._resolve(written, port, resolver or socket.getaddrinfo)
    checked = []
    for family, text, sockaddr in infos:
        try:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            raise guard.DNSFailure(written, f"the resolver returned {text!r}, which is not an address") from None
        if not allowed:
            reason = guard.why_not_public(addr)
            if reason:
                raise guard.RefusedAddress(key_host, port, addr.compressed, reason)
        checked.append((family, addr.compressed, sockaddr))
    family, address, sockaddr = checked[0]
    return Target(host=key_host, port=port, address=address, family=family, sockaddr=sockaddr,
                  allowed_by_list=allowed, candidates=tuple(checked))


def _outcome(call):
    try:
        return call()
    except guard.GuardError as exc:
        return type(exc).__name__, str(exc)


def _random_address(rng: random.Random) -> str:
    nets = [net for net, _ in guard._IPV4_BLOCKED + guard._IPV6_BLOCKED + guard._IPV6_OUTSIDE] + [
        guard._MAPPED, guard._COMPATIBLE, guard._SIXTOFOUR, guard._TEREDO, guard._NAT64,
        guard._NAT64_LOCAL, ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("2000::/3")]
    net = rng.choice(nets)
    addr = net[rng.randrange(min(net.num_addresses, 2 ** 32))]
    return rng.choice([addr.compressed, addr.exploded, str(addr).upper()])


_HOSTS = ["example.org", "EXAMPLE.org.", "127.0.0.1", "127.1", "2130706433", "0x7f000001",
          "[::1]", "[0:0::1]", "::ffff:127.0.0.1", "[::FFFF:7F00:1]", "8.8.8.8", "8.8.8.8.",
          "1.2.3", "1.2.3.4.5", "01.2.3.4", "\u0661\u0662\u0667.0.0.1", "²7.0.0.1", "",
          "...", "fe80::1%eth0", "[2001:db8::1]", "2606:4700::1", "localhost", "a:b", "[]"]


@pytest.mark.parametrize("seed", range(40))
def test_check_host_judges_as_it_did_before_caching(seed):
    rng = random.Random(seed)
    port = rng.choice([80, 443, 8080])
    allow_pairs = [(rng.choice(_HOSTS + ["LocalHost."]), port) for _ in range(rng.randrange(0, 3))]
    answers = [_random_address(rng) for _ in range(rng.randrange(1, 4))]
    if rng.random() < 0.1:
        answers.append("not-an-address")

    def resolver(host, port, *_args):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in answers]

    for allow in (frozenset(allow_pairs), set(allow_pairs), list(allow_pairs)):
        for host in _HOSTS + [rng.choice(answers)]:
            for _ in range(2):      # the second time from the caches
                assert (_outcome(lambda: guard.check_host(host, port, allow, resolver))
                        == _outcome(lambda: _check_host_as_before(host, port, allow, resolver)))


@pytest.mark.parametrize("seed", range(20))
def test_every_kind_of_address_is_judged_as_why_not_public_judges_it(seed):
    rng = random.Random(1000 + seed)
    for _ in range(200):
        text = _random_address(rng)
        addr = ipaddress.ip_address(text)
        assert guard._judged(text) == (addr.compressed, guard.why_not_public(addr))


# --- archiver/fetch/fetcher.py: responses that set no cookie skip the cookie jar -----------

def _urllib3_response(head: bytes):
    class Sock:
        def makefile(self, *_args):
            return io.BytesIO(head + b"body")

    original = http.client.HTTPResponse(Sock(), method="GET")
    original.begin()
    return urllib3.HTTPResponse(body=original, headers=urllib3.HTTPHeaderDict(original.msg.items()),
                                status=original.status, preload_content=False,
                                decode_content=False, original_response=original)


def _jar_contents(jar) -> list:
    return sorted((c.domain, c.path, c.name, c.value, c.expires) for c in jar)


_COOKIE_LINES = [b"Set-Cookie: a=1", b"set-cookie: b=2; Path=/", b"SET-COOKIE: old=; Max-Age=0",
                 b"Set-Cookie2: c=3; Version=1", b"Set-Cookie: d=4; Domain=example.org",
                 b"X-Set-Cookie: no=1", b"Cookie: e=5", b"Set-Cookies: f=6", b"Content-Type: text/html"]


@pytest.mark.parametrize("seed", range(200))
def test_cookies_are_kept_as_the_jar_itself_keeps_them(seed):
    rng = random.Random(seed)
    lines = [rng.choice(_COOKIE_LINES) for _ in range(rng.randrange(0, 4))]
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"
    prepared = requests.Request("GET", "http://example.org/a/b").prepare()
    jars = []
    for keep in (fetcher._keep_cookies, extract_cookies_to_jar):
        jar = RequestsCookieJar()
        jar.set("old", "x", domain="example.org", path="/")
        response = _urllib3_response(head)
        keep(jar, prepared, response)
        response.release_conn()
        jars.append(_jar_contents(jar))
    assert jars[0] == jars[1]


# --- archiver/fetch/message.py: a body read whole is not copied into a second buffer ------

def _payload_facts(payload) -> tuple:
    data = payload.file.read()
    payload.file.close()
    return data, payload.length, payload.sha256, payload.complete, payload.capped, payload.offset


@pytest.mark.parametrize("seed", range(150))
def test_a_payload_read_whole_is_the_payload_the_spooled_copy_gives(seed, monkeypatch):
    rng = random.Random(seed)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    size = rng.choice([0, 1, 5, 100, 4095, 70000, message.SPOOL_MAX_MEMORY - len(head) - 1,
                       message.SPOOL_MAX_MEMORY + 3])
    body = rng.randbytes(size)
    limit = rng.choice([0, 1, size - 1, size, size + 1, 10 ** 9])
    content_length = rng.choice([None, size, size + 1, max(size - 1, 0)])
    bodiless = rng.random() < 0.2
    recorded = tempfile.SpooledTemporaryFile(max_size=message.SPOOL_MAX_MEMORY)
    recorded.write(head + body)
    try:
        facts = []
        spooled = 1 if size < 100_000 else 64 * 1024    # pieces this small: the spooled path
        for copy_size in (message._COPY_SIZE, spooled):
            monkeypatch.setattr(message, "_COPY_SIZE", copy_size)
            payload = message.extract_payload(recorded, len(head), chunked=False,
                                              content_length=content_length, limit=limit,
                                              bodiless=bodiless)
            assert recorded.tell() == len(head) + size       # left at the end, as before
            facts.append(_payload_facts(payload))
        assert facts[0] == facts[1]
    finally:
        recorded.close()


# --- archiver/fetch/tlsinfo.py: a certificate read once ------------------------------------

def _certificate_der(name: str) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test, Inc.")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2026, 1, 1, tzinfo=timezone.utc))
            .not_valid_after(datetime(2027, 1, 1, 12, 30, tzinfo=timezone.utc))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def _tls_info_read_every_time(version, cipher, cert_der):
    info = TLSInfo(version=version, cipher=cipher)
    if not cert_der:
        return info
    info.cert_der = cert_der
    info.cert_sha256 = hashlib.sha256(cert_der).hexdigest()
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError:
        return info
    info.cert_subject = cert.subject.rfc4514_string()
    info.cert_issuer = cert.issuer.rfc4514_string()
    info.cert_not_before = cert.not_valid_before_utc.astimezone(timezone.utc)
    info.cert_not_after = cert.not_valid_after_utc.astimezone(timezone.utc)
    return info


@pytest.mark.parametrize("cert_der", [None, b"", b"not a certificate", "cert-a", "cert-b"])
def test_tls_facts_are_those_read_from_the_certificate_each_time(cert_der):
    if isinstance(cert_der, str):
        cert_der = _certificate_der(cert_der + ".example")
    first = tlsinfo.tls_info("TLSv1.3", "TLS_AES_128_GCM_SHA256", cert_der)
    again = tlsinfo.tls_info("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", cert_der)
    assert first == _tls_info_read_every_time("TLSv1.3", "TLS_AES_128_GCM_SHA256", cert_der)
    assert again == _tls_info_read_every_time("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", cert_der)
    assert first is not again


# --- archiver/fetch/wire.py: the trusted CAs loaded once -----------------------------------

def test_the_shared_tls_context_is_the_one_urllib3_would_build_for_a_verified_connection():
    import certifi
    from urllib3.util.ssl_ import create_urllib3_context
    own = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    own.load_verify_locations(certifi.where())
    shared = wire.verifying_context(certifi.where(), None)
    for setting in ("verify_mode", "check_hostname", "options", "minimum_version",
                    "maximum_version", "hostname_checks_common_name", "verify_flags",
                    "post_handshake_auth"):
        assert getattr(shared, setting) == getattr(own, setting), setting
    # the same CAs (OpenSSL sorts its store when it looks a certificate up: order aside)
    assert sorted(map(repr, shared.get_ca_certs())) == sorted(map(repr, own.get_ca_certs()))
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname


def test_new_tls_connections_share_the_loaded_cas_and_still_verify(tls_site):  # noqa: F811
    url = f"https://{TLS_NAME}:{tls_site.port}/article"
    settings = make_settings(f"{TLS_NAME}:{tls_site.port}")
    resolver = resolver_for({TLS_NAME: "127.0.0.1"})
    wire.verifying_context.cache_clear()
    for _ in range(3):              # no kept connections: three connections, three handshakes
        result = fetch(url, settings, resolver=resolver, ca_bundle=tls_site.ca_file)
        try:
            assert result.ok, result.error
            assert result.final.tls.cert_subject == f"O=Fixture,CN={TLS_NAME}"
        finally:
            result.close()
    assert wire.verifying_context.cache_info().misses == 1
    untrusted = fetch(url, settings, resolver=resolver)          # the default CAs: refused
    assert untrusted.error_code == "tls" and "certificate" in untrusted.error
    other = "not-in-the-cert.example"
    wrong_name = fetch(f"https://{other}:{tls_site.port}/", make_settings(f"{other}:{tls_site.port}"),
                       resolver=resolver_for({other: "127.0.0.1"}), ca_bundle=tls_site.ca_file)
    assert wrong_name.error_code == "tls" and "certificate" in wrong_name.error

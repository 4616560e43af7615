"""The fetcher against the fixture site: exact bytes, redirects hop by hop through the guard,
deadlines, caps, and every failure coming back as an error code with a sentence."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import socket
import ssl
import threading
import time
import zlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archiver.config import Settings
from archiver.fetch import DecodeError, Exchange, decode_content, fetch
from tests.fixture_site import ARABIC_HTML, PDF_TEXT, FixtureSite
from tests.netguard import recording_tripwire, resolver_for

UA = "archiver-test/1.0 (+http://127.0.0.1/about)"


def make_settings(*allow: str, **overrides) -> Settings:
    pairs = set()
    for item in allow:
        host, _, port = item.rpartition(":")
        pairs.add((host.strip("[]").lower(), int(port)))
    values = dict(data_dir=Path("/nonexistent"), allow_private=frozenset(pairs), user_agent=UA,
                  connect_timeout=3.0, read_timeout=5.0, total_deadline=20.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def site_settings(fixture_site) -> Settings:
    return make_settings(fixture_site.allow)


@pytest.fixture
def get(fixture_site, site_settings):
    """fetch(path) from the fixture site; results closed at the end of the test."""
    results = []

    def run(path: str, settings: Settings | None = None, **kwargs):
        result = fetch(fixture_site.url(path), settings or site_settings, **kwargs)
        results.append(result)
        return result

    yield run
    for result in results:
        result.close()


def response_bytes(exchange: Exchange) -> bytes:
    exchange.response_file.seek(0)
    data = exchange.response_file.read()
    exchange.response_file.seek(0)
    assert len(data) == exchange.response_length
    return data


def payload_bytes(exchange: Exchange) -> bytes:
    exchange.payload_file.seek(0)
    data = exchange.payload_file.read()
    exchange.payload_file.seek(0)
    assert len(data) == exchange.payload_length
    assert hashlib.sha256(data).hexdigest() == exchange.payload_sha256
    return data


@pytest.fixture
def tripwire(monkeypatch):
    """Records every outgoing connection attempt made through the socket module."""
    return recording_tripwire(monkeypatch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- exact bytes ------------------------------------------------------------------

def test_article_request_and_response_bytes_are_exact(get, fixture_site):
    result = get("/article")
    assert result.ok and result.error_code is None
    [ex] = result.exchanges
    assert ex.url == fixture_site.url("/article") and result.final_url == ex.url
    assert (ex.ip, ex.port) == ("127.0.0.1", fixture_site.port)
    assert ex.status == 200 and ex.reason == "OK" and ex.http_version == "HTTP/1.1"
    assert ex.request_bytes.startswith(b"GET /article HTTP/1.1\r\n")
    assert f"\r\nUser-Agent: {UA}\r\n".encode() in ex.request_bytes
    assert b"\r\nAccept-Encoding: gzip, deflate\r\n" in ex.request_bytes
    assert f"\r\nHost: 127.0.0.1:{fixture_site.port}\r\n".encode() in ex.request_bytes
    assert ex.request_bytes.endswith(b"\r\n\r\n")
    raw = response_bytes(ex)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert body == fixture_site.article == payload_bytes(ex)
    assert ex.payload_sha256 == hashlib.sha256(fixture_site.article).hexdigest()
    assert [k for k, _ in ex.headers][:2] == ["Server", "Date"]
    assert ex.content_type == "text/html; charset=utf-8"
    assert ex.header("content-length") == str(len(fixture_site.article))
    assert ex.truncated is None and ex.tls is None and ex.location is None
    assert ex.started_at <= ex.ended_at and ex.started_at.tzinfo is not None


@pytest.mark.parametrize("path,status", [("/404", 404), ("/500", 500)])
def test_error_statuses_are_responses_not_errors(get, path, status):
    result = get(path)
    assert result.ok and result.error_code is None
    assert result.final.status == status
    assert b"could not serve this page" in payload_bytes(result.final)


def test_pdf_and_png_bytes_are_exact(get, fixture_site):
    from pypdf import PdfReader
    pdf = get("/doc.pdf").final
    assert payload_bytes(pdf) == fixture_site.pdf and pdf.content_type == "application/pdf"
    assert PDF_TEXT in PdfReader(io.BytesIO(payload_bytes(pdf))).pages[0].extract_text()
    png = get("/image.png").final
    data = payload_bytes(png)
    assert data == fixture_site.png and data.startswith(b"\x89PNG\r\n\x1a\n")


def test_windows_1256_bytes_are_kept(get):
    ex = get("/arabic").final
    assert "windows-1256" in ex.content_type
    data = payload_bytes(ex)
    assert data == ARABIC_HTML.encode("windows-1256")
    assert "مكتبة" in data.decode("windows-1256")


def test_gzip_response_is_stored_encoded_and_decoded_on_request(get, fixture_site):
    ex = get("/gzip").final
    assert ex.header("Content-Encoding") == "gzip"
    data = payload_bytes(ex)
    assert data == fixture_site.article_gzip and data[:2] == b"\x1f\x8b"
    assert response_bytes(ex).endswith(data)
    assert decode_content(ex, 10 * 1024 * 1024) == fixture_site.article
    assert ex.payload_file.tell() == 0


def test_chunked_framing_is_in_the_response_and_not_in_the_payload(get, fixture_site):
    ex = get("/chunked").final
    raw = response_bytes(ex)
    assert b"\r\nTransfer-Encoding: chunked\r\n" in raw
    assert b"\r\n\r\n1f4\r\n<!DOCTYPE html>" in raw and raw.endswith(b"\r\n0\r\n\r\n")
    assert payload_bytes(ex) == fixture_site.article
    assert ex.truncated is None


def test_plain_text_and_changing_pages(get):
    assert payload_bytes(get("/plain.txt").final).startswith(b"Fixture plain text.")
    first, second = payload_bytes(get("/changing").final), payload_bytes(get("/changing").final)
    assert first != second


def test_proxy_variables_in_the_environment_are_ignored(get, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")
    assert get("/plain.txt").ok


# --- redirects --------------------------------------------------------------------

def test_redirect_chain_of_three_gives_four_exchanges(get, fixture_site):
    result = get("/redirect/3")
    assert result.ok
    assert [ex.url for ex in result.exchanges] == [
        fixture_site.url(p) for p in ("/redirect/3", "/redirect/2", "/redirect/1", "/article")]
    assert [ex.status for ex in result.exchanges] == [307, 302, 301, 200]
    assert [ex.location for ex in result.exchanges] == [
        fixture_site.url(p) for p in ("/redirect/2", "/redirect/1", "/article")] + [None]
    assert all(ex.request_bytes.startswith(b"GET ") for ex in result.exchanges)
    assert result.final_url == fixture_site.url("/article")
    assert payload_bytes(result.final) == fixture_site.article


def test_redirect_loop(get, fixture_site):
    result = get("/loop/a")
    assert result.error_code == "redirect_loop" and "loop" in result.error
    assert [ex.status for ex in result.exchanges] == [302, 302]
    assert fixture_site.url("/loop/a") in result.error


def test_too_many_redirects(get, fixture_site):
    result = get("/redirect/3", make_settings(fixture_site.allow, max_redirects=2))
    assert result.error_code == "too_many_redirects"
    assert len(result.exchanges) == 3 and "2 redirects" in result.error


def test_redirect_to_another_local_port_is_refused_on_that_hop(get, fixture_site, tripwire):
    other = free_port()
    before = len(fixture_site.requests)
    result = get(f"/redirect-to?url=http://127.0.0.1:{other}/admin")
    assert result.error_code == "refused_address"
    assert f"127.0.0.1:{other}" in result.error and "loopback" in result.error
    assert [ex.status for ex in result.exchanges] == [302]
    assert tripwire == [("127.0.0.1", fixture_site.port)]       # nothing tried on `other`
    assert len(fixture_site.requests) == before + 1


def test_redirect_to_a_name_resolving_to_an_internal_address_is_refused(get, fixture_site, tripwire):
    resolver = resolver_for({"metadata.internal.test": "169.254.169.254"})
    result = get("/redirect-to?url=http://metadata.internal.test/latest/meta-data/",
                 resolver=resolver)
    assert result.error_code == "refused_address"
    assert "169.254.169.254" in result.error and "link-local" in result.error
    assert len(result.exchanges) == 1 and result.exchanges[0].status == 302
    assert tripwire == [("127.0.0.1", fixture_site.port)]


def test_redirect_to_another_scheme_is_refused(get):
    result = get("/redirect-to?url=file:///etc/passwd")
    assert result.error_code == "invalid_url" and "file" in result.error
    assert len(result.exchanges) == 1


# --- refusals open no connection --------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "127.1"])
def test_refused_url_opens_no_connection(fixture_site, tripwire, host):
    def numeric_only(name, port, *args, **kwargs):
        return socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)

    before = len(fixture_site.requests)
    # the allowlist names another port, so nothing here is allowed
    result = fetch(f"http://{host}:{fixture_site.port}/article",
                   make_settings(f"127.0.0.1:{fixture_site.port + 1}"), resolver=numeric_only)
    assert result.error_code == "refused_address" and result.exchanges == []
    assert "ARCHIVER_ALLOW_PRIVATE=" in result.error
    assert tripwire == [] and len(fixture_site.requests) == before


def test_dns_failure(tripwire):
    result = fetch("http://no-such-host.example/", make_settings(), resolver=resolver_for({}))
    assert result.error_code == "dns" and "no-such-host.example" in result.error
    assert result.exchanges == [] and tripwire == []
    assert not result.ok


def test_invalid_url_comes_back_as_an_error(tripwire):
    result = fetch("ftp://example.com/", make_settings())
    assert result.error_code == "invalid_url" and "http" in result.error and tripwire == []


def test_connects_to_the_checked_address_without_a_second_lookup(fixture_site, monkeypatch, tripwire):
    calls: list[str] = []
    resolver = resolver_for({"site.test": "127.0.0.1"}, calls)

    def no_system_lookups(*args, **kwargs):
        raise AssertionError("the system resolver must not be used")
    monkeypatch.setattr(socket, "getaddrinfo", no_system_lookups)
    url = f"http://site.test:{fixture_site.port}/article"
    result = fetch(url, make_settings(f"site.test:{fixture_site.port}"), resolver=resolver)
    try:
        assert result.ok, result.error
        assert calls == ["site.test"]
        assert tripwire == [("127.0.0.1", fixture_site.port)]
        ex = result.final
        assert (ex.url, ex.ip, ex.port) == (url, "127.0.0.1", fixture_site.port)
        assert f"\r\nHost: site.test:{fixture_site.port}\r\n".encode() in ex.request_bytes
    finally:
        result.close()


# --- network failures -------------------------------------------------------------

def test_connection_refused():
    port = free_port()
    result = fetch(f"http://127.0.0.1:{port}/", make_settings(f"127.0.0.1:{port}"))
    assert result.error_code == "connect" and str(port) in result.error
    assert "refused" in result.error and result.exchanges == []


def test_trickling_body_ends_on_the_total_deadline(get, fixture_site):
    start = time.monotonic()
    result = get("/slow", make_settings(fixture_site.allow, total_deadline=2.5, read_timeout=5.0))
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed < 4.0
    assert result.ok and result.error_code is None
    ex = result.final
    assert ex.status == 200 and ex.truncated == "time"
    data = payload_bytes(ex)
    assert 1 <= len(data) <= 3 and set(data) == {ord(".")}
    assert response_bytes(ex).endswith(b"\r\n\r\n" + data)


def test_slow_headers_time_out_on_the_read_timeout(get, fixture_site):
    start = time.monotonic()
    result = get("/slow-headers", make_settings(fixture_site.allow, read_timeout=1.0))
    assert time.monotonic() - start < 3.0
    assert result.error_code == "timeout" and "1 s" in result.error
    [ex] = result.exchanges                      # the request went out; no response came
    assert ex.status is None and ex.response_file is None
    assert ex.request_bytes.startswith(b"GET /slow-headers HTTP/1.1\r\n")


def test_slow_headers_time_out_on_the_total_deadline(get, fixture_site):
    start = time.monotonic()
    result = get("/slow-headers", make_settings(fixture_site.allow, read_timeout=30.0,
                                                total_deadline=1.5))
    assert time.monotonic() - start < 3.0
    assert result.error_code == "timeout" and "total time limit" in result.error


def test_body_over_the_cap_is_truncated(get, fixture_site):
    cap = 1024 * 1024
    result = get("/big?mb=3", make_settings(fixture_site.allow, max_body_bytes=cap))
    assert result.ok
    ex = result.final
    assert ex.truncated == "length" and ex.payload_length == cap
    block = bytes(range(256)) * 256
    assert payload_bytes(ex) == block * 16
    head = response_bytes(ex).partition(b"\r\n\r\n")[0]
    assert ex.response_length == len(head) + 4 + cap


def test_body_exactly_at_the_cap_is_complete(get, fixture_site):
    result = get("/big?mb=1", make_settings(fixture_site.allow, max_body_bytes=1024 * 1024))
    assert result.final.truncated is None and result.final.payload_length == 1024 * 1024


@pytest.mark.parametrize("path, cap", [("/article", None), ("/gzip", None), ("/404", None),
                                       ("/redirect/2", None), ("/doc.pdf", None),
                                       ("/big?mb=2", 1024 * 1024), ("/chunked", None)])
def test_the_payload_sha256_gives_the_warc_payload_digest_when_it_covers_the_same_bytes(
        get, fixture_site, path, cap):
    """The WARC writer takes the fetcher's payload_sha256 as the response record's payload
    digest instead of hashing the body again (archiver.warc.records.fetched_payload_digest):
    it must be the digest hashing gives, and be declined where the bytes differ (chunked)."""
    from archiver.warc.records import (
        fetched_payload_digest, http_block_digests, http_header_length, response_payload_digest,
    )
    settings = make_settings(fixture_site.allow, max_body_bytes=cap) if cap else None
    result = get(path, settings)
    for ex in result.exchanges:
        length = ex.response_length
        header_length = http_header_length(ex.response_file, length)
        _, hashed = http_block_digests(ex.response_file, length, header_length)
        fetched = fetched_payload_digest(ex, length, header_length)
        if path == "/chunked":
            assert fetched is None and ex.payload_offset is None
        else:
            assert fetched == hashed and ex.payload_offset == header_length
        assert response_payload_digest(ex) == hashed
        assert http_block_digests(ex.response_file, length, header_length, fetched) == \
            http_block_digests(ex.response_file, length, header_length)


class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with `behaviour(conn)`."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.behaviour(conn)

    def close(self):
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(behaviour):
        server = RawServer(behaviour)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_garbage_response_is_a_protocol_error(raw_server):
    server = raw_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\nnonsense\r\n\r\n"))
    result = fetch(f"http://127.0.0.1:{server.port}/", make_settings(f"127.0.0.1:{server.port}"))
    assert result.error_code == "protocol" and "valid HTTP" in result.error
    assert result.exchanges[0].status is None


def test_connection_closed_without_answer_is_a_reset(raw_server):
    def reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    server = raw_server(reset)
    result = fetch(f"http://127.0.0.1:{server.port}/", make_settings(f"127.0.0.1:{server.port}"))
    assert result.error_code == "reset" and "closed the connection" in result.error


def test_body_cut_short_is_kept_and_marked(raw_server):
    server = raw_server(lambda conn: conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly part"))
    result = fetch(f"http://127.0.0.1:{server.port}/", make_settings(f"127.0.0.1:{server.port}"))
    try:
        assert result.error_code is None
        assert result.final.truncated == "disconnect"
        assert payload_bytes(result.final) == b"only part"
    finally:
        result.close()


# --- decoding ---------------------------------------------------------------------

def exchange_with(body: bytes, encoding: str | None) -> Exchange:
    now = dt.datetime.now(dt.timezone.utc)
    ex = Exchange(url="http://example.com/", ip="93.184.215.14", port=80, started_at=now,
                  ended_at=now, request_bytes=b"")
    ex.headers = [("Content-Encoding", encoding)] if encoding else []
    ex.payload_file = io.BytesIO(body)
    return ex


def test_decode_content_handles_gzip_deflate_and_two_stacked():
    html = b"<html><body>" + b"text " * 2000 + b"</body></html>"
    raw_deflate = zlib.compressobj(wbits=-15)
    assert decode_content(exchange_with(gzip.compress(html), "gzip"), 10**6) == html
    assert decode_content(exchange_with(zlib.compress(html), "deflate"), 10**6) == html
    assert decode_content(exchange_with(raw_deflate.compress(html) + raw_deflate.flush(),
                                        "deflate"), 10**6) == html
    assert decode_content(exchange_with(gzip.compress(zlib.compress(html)), "deflate, gzip"),
                          10**6) == html
    assert decode_content(exchange_with(html, "identity"), 10**6) == html
    assert decode_content(exchange_with(html, None), 10**6) == html


def test_decompression_bomb_stops_at_the_limit():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    start = time.monotonic()
    with pytest.raises(DecodeError, match="limit of 1048576 bytes"):
        decode_content(exchange_with(bomb, "gzip"), 1024 * 1024)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("encoding,body,words", [
    ("br", b"x", "unsupported"),
    ("gzip, gzip, gzip", b"x", "at most 2"),
    ("gzip", b"not gzip at all", "corrupt"),
])
def test_decode_errors_are_clear(encoding, body, words):
    with pytest.raises(DecodeError, match=words):
        decode_content(exchange_with(body, encoding), 1000)


def test_plain_body_over_the_limit_is_refused():
    with pytest.raises(DecodeError):
        decode_content(exchange_with(b"x" * 2000, None), 1000)


# --- TLS --------------------------------------------------------------------------

TLS_NAME = "archive-test.example"


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory):
    """An HTTPS fixture site with a certificate for TLS_NAME from a CA made for the test."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Archiver Test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    not_before = (now - dt.timedelta(hours=1)).replace(microsecond=0)
    not_after = (now + dt.timedelta(days=7)).replace(microsecond=0)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_NAME),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fixture")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(TLS_NAME)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    with FixtureSite(ssl_context=context) as site:
        site.ca_file = str(ca_file)
        site.leaf = leaf
        site.server_names = server_names
        site.not_before, site.not_after = not_before, not_after
        yield site


def test_tls_details_are_recorded(tls_site):
    url = f"https://{TLS_NAME}:{tls_site.port}/article"
    settings = make_settings(f"{TLS_NAME}:{tls_site.port}")
    result = fetch(url, settings, resolver=resolver_for({TLS_NAME: "127.0.0.1"}),
                   ca_bundle=tls_site.ca_file)
    try:
        assert result.ok, result.error
        ex = result.final
        assert (ex.ip, ex.status) == ("127.0.0.1", 200)
        assert tls_site.server_names[-1] == TLS_NAME                # SNI is the host name
        tls = ex.tls
        assert tls.version in ("TLSv1.2", "TLSv1.3") and tls.cipher
        der = tls_site.leaf.public_bytes(serialization.Encoding.DER)
        assert tls.cert_der == der and tls.cert_sha256 == hashlib.sha256(der).hexdigest()
        assert tls.cert_subject == f"O=Fixture,CN={TLS_NAME}"
        assert tls.cert_issuer == "CN=Archiver Test CA"
        assert (tls.cert_not_before, tls.cert_not_after) == (tls_site.not_before, tls_site.not_after)
        assert ex.request_bytes.startswith(b"GET /article HTTP/1.1\r\n")   # after TLS: plain text
        assert response_bytes(ex).startswith(b"HTTP/1.1 200 OK\r\n")
        assert payload_bytes(ex) == tls_site.article
    finally:
        result.close()


def test_untrusted_certificate_is_a_tls_error(tls_site):
    settings = make_settings(f"{TLS_NAME}:{tls_site.port}")
    result = fetch(f"https://{TLS_NAME}:{tls_site.port}/", settings,
                   resolver=resolver_for({TLS_NAME: "127.0.0.1"}))
    assert result.error_code == "tls" and "certificate" in result.error
    assert result.exchanges == []


def test_certificate_for_another_name_is_a_tls_error(tls_site):
    other = "not-in-the-cert.example"
    result = fetch(f"https://{other}:{tls_site.port}/", make_settings(f"{other}:{tls_site.port}"),
                   resolver=resolver_for({other: "127.0.0.1"}), ca_bundle=tls_site.ca_file)
    assert result.error_code == "tls" and "certificate" in result.error
    assert tls_site.server_names[-1] == other


def test_plain_http_to_a_tls_port_is_a_protocol_error(tls_site):
    result = fetch(f"http://127.0.0.1:{tls_site.port}/", make_settings(f"127.0.0.1:{tls_site.port}"))
    assert result.error_code in ("protocol", "reset"), result.error


def test_https_urls_pass_the_guard_too(tls_site, tripwire):
    result = fetch(f"https://127.0.0.1:{tls_site.port}/", make_settings(), ca_bundle=tls_site.ca_file)
    assert result.error_code == "refused_address" and tripwire == []


def test_next_checked_address_is_tried_when_the_first_does_not_answer(fixture_site, tripwire):
    def two_addresses(host, port, *args, **kwargs):
        # 127.0.0.2 is loopback too (Linux answers on all of 127/8), but the fixture site
        # listens on 127.0.0.1 only: the first address refuses the connection.
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    url = f"http://two.test:{fixture_site.port}/plain.txt"
    result = fetch(url, make_settings(f"two.test:{fixture_site.port}"), resolver=two_addresses)
    try:
        assert result.ok, result.error
        assert result.final.ip == "127.0.0.1"
        assert tripwire == [("127.0.0.2", fixture_site.port), ("127.0.0.1", fixture_site.port)]
    finally:
        result.close()


def test_redirect_target_with_spaces_and_non_ascii_is_encoded(get, fixture_site):
    # the fixture sends: Location: /article?q=a b\xe9 (a raw space, and e-acute in ISO-8859-1)
    result = get("/redirect-to?url=/article%3Fq%3Da%20b%C3%A9&status=301")
    assert result.ok, result.error
    assert [ex.status for ex in result.exchanges] == [301, 200]
    assert result.final_url == fixture_site.url("/article?q=a%20b%C3%A9")
    assert result.final.request_bytes.startswith(b"GET /article?q=a%20b%C3%A9 HTTP/1.1\r\n")


def test_fixture_site_runs_as_its_own_process():
    import subprocess
    import sys
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fixture_site", "--port", str(port)],
                               cwd=Path(__file__).resolve().parent.parent,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = process.stdout.readline().decode()
        assert f"127.0.0.1:{port}" in line, line
        result = fetch(f"http://127.0.0.1:{port}/article", make_settings(f"127.0.0.1:{port}"))
        assert result.ok and b"Fixture headline" in payload_bytes(result.final)
        result.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback_works(), reason="no IPv6 loopback on this machine")
def test_ipv6_literal_site():
    with FixtureSite(host="::1") as site:
        assert site.allow == f"[::1]:{site.port}"
        result = fetch(site.url("/redirect/1"), make_settings(site.allow))
        try:
            # /redirect/1 points at the site's own absolute URL, on [::1] too
            assert result.ok, result.error
            assert [(ex.ip, ex.status) for ex in result.exchanges] == [("::1", 301), ("::1", 200)]
            assert f"\r\nHost: [::1]:{site.port}\r\n".encode() in result.final.request_bytes
            assert payload_bytes(result.final) == site.article
        finally:
            result.close()
        refused = fetch(site.url("/article"), make_settings())
        assert refused.error_code == "refused_address" and f"[::1]:{site.port}" in refused.error

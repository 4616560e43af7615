"""The WARC writer, reader, verifier and recovery, on real HTTP bytes from a loopback server.

The exchanges are captured here with a raw socket client (not archiver.fetch), so these
tests pin down the WARC side alone: what the wire carried is what the WARC holds.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.fetch.types import Exchange, FetchResult
from archiver.warc import (
    CaptureRecords, SealedFile, SealError, WarcFileWriter, read_record, recover_open_files,
    verify_warc_file,
)
from archiver.warc.names import parse_filename, safe_hostname
from archiver.warc.reader import parse_record
from storage import LocalStorage, MemoryStorage, open_storage

BIN = Path(sys.executable).parent
ARTICLE_TITLE = "Fixture headline"
ARTICLE_TEXT = "Archived words stay the same, byte for byte."
ARTICLE = (f"<!doctype html><html><head><meta charset='utf-8'><title>{ARTICLE_TITLE}</title></head>"
           f"<body><h1>{ARTICLE_TITLE}</h1><p>{ARTICLE_TEXT}</p><p>Caf\u00e9 cr\u00e8me.</p>"
           "</body></html>").encode("utf-8")


# --- a loopback site answering with exact, hand-written bytes ---------------------------

def _response(status: str, headers: list[tuple[str, str]], body: bytes, raw_head: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n".encode() + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers)
    return head + raw_head + b"\r\n" + body


def _chunked(body: bytes, size: int = 40) -> bytes:
    parts = [f"{len(body[i:i + size]):x}\r\n".encode() + body[i:i + size] + b"\r\n"
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def site_responses() -> dict[str, bytes]:
    html = [("Content-Type", "text/html; charset=utf-8"), ("Connection", "close")]
    packed = gzip.compress(ARTICLE, mtime=0)
    noise = hashlib.shake_256(b"incompressible").digest(60_000)
    return {
        "/article": _response("200 OK", html + [("Content-Length", str(len(ARTICLE)))], ARTICLE),
        "/redirect": _response("302 Found", [("Location", "/article"), ("Content-Length", "0"),
                                             ("Connection", "close")], b""),
        "/chunked": _response("200 OK", html + [("Transfer-Encoding", "chunked")], _chunked(ARTICLE)),
        "/gzip": _response("200 OK", html + [("Content-Encoding", "gzip"),
                                             ("Content-Length", str(len(packed)))], packed),
        # header lines warcio's writer would rewrite: folded, Latin-1, odd spacing
        "/odd-headers": _response("200 OK", html + [("Content-Length", str(len(ARTICLE)))], ARTICLE,
                                  raw_head=b"X-Folded: first\r\n  second\r\nX-Latin: caf\xe9\r\n"
                                           b"X-Tight:value  \r\n"),
        # bare LF line ends, as some old servers send
        "/bare-lf": b"HTTP/1.0 200 OK\nContent-Type: text/html\nContent-Length: %d\n\n%s" % (
            len(ARTICLE), ARTICLE),
        "/text": _response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                      ("Content-Length", "23"), ("Connection", "close")],
                           b"plain words, as served\n"),
        "/missing": _response("404 Not Found", html + [("Content-Length", "9")], b"not here\n"),
        "/noise": _response("200 OK", [("Content-Type", "application/octet-stream"),
                                       ("Content-Length", str(len(noise))), ("Connection", "close")],
                            noise),
    }


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        answer = self.server.responses.get(urlsplit(self.path).path)
        if answer is None:
            answer = _response("404 Not Found", [("Content-Length", "0")], b"")
        self.wfile.write(answer)
        self.close_connection = True

    def log_message(self, *args):
        pass


@dataclass
class Site:
    host: str
    port: int
    responses: dict[str, bytes]

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


@contextmanager
def loopback_site():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.responses = site_responses()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site("127.0.0.1", server.server_address[1], server.responses)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def site():
    with loopback_site() as running:
        yield running


# --- a raw socket client: the exact bytes sent and received ------------------------------

def raw_exchange(url: str, started_at: datetime | None = None) -> Exchange:
    parts = urlsplit(url)
    request = (f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "User-Agent: archiver-tests\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
               ).encode()
    started = started_at or datetime.now(timezone.utc)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
        ip, port = sock.getpeername()[:2]
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    _, status, reason = lines[0].decode("latin-1").split(" ", 2)
    headers = [tuple(x.strip() for x in line.decode("latin-1").split(":", 1))
               for line in lines[1:] if b":" in line and not line[:1].isspace()]
    spool = tempfile.SpooledTemporaryFile()
    spool.write(received)
    payload = tempfile.SpooledTemporaryFile()
    payload.write(body)
    exchange = Exchange(url=url, ip=ip, port=port, started_at=started,
                        ended_at=datetime.now(timezone.utc), request_bytes=request,
                        response_file=spool, response_length=len(received), status=int(status),
                        reason=reason, headers=headers, payload_file=payload,
                        payload_length=len(body), payload_sha256=hashlib.sha256(body).hexdigest())
    location = exchange.header("Location")
    exchange.location = urljoin(url, location) if location else None
    return exchange


_TO_CLOSE: list = []      # fetch results and writers made by a test, closed after it


@pytest.fixture(autouse=True)
def _close_everything():
    yield
    while _TO_CLOSE:
        item = _TO_CLOSE.pop()
        if isinstance(item, WarcFileWriter):
            try:
                item.close()
            except Exception:  # noqa: BLE001  (a test left it failing on purpose)
                pass
            if item._file is not None:
                item._file.handle.close()
        else:
            item.close()


def raw_fetch(url: str, started_at: datetime | None = None) -> FetchResult:
    """Follow redirects by hand; every hop is one Exchange."""
    exchanges = []
    while True:
        exchange = raw_exchange(url, started_at)
        exchanges.append(exchange)
        if exchange.location and len(exchanges) < 5:
            url = exchange.location
            continue
        result = FetchResult(requested_url=exchanges[0].url, exchanges=exchanges)
        _TO_CLOSE.append(result)
        return result


def capture_of(result: FetchResult, capture_id: int = 1, text: str | None = None,
               text_metadata: dict | None = None) -> CaptureRecords:
    return CaptureRecords(capture_id=capture_id, fetch=result,
                          provenance={"capture_id": capture_id, "requested_url": result.requested_url,
                                      "note": "caf\u00e9"},
                          text=text, text_metadata=text_metadata)


def page_text() -> str:
    return f"{ARTICLE_TITLE}\n\n{ARTICLE_TEXT}\nCaf\u00e9 cr\u00e8me."


# --- settings, storage and a writer with its callbacks -----------------------------------

def make_settings(tmp_path: Path, **overrides) -> Settings:
    settings = Settings.from_env({"ARCHIVER_DATA_DIR": str(tmp_path / "data")})
    return settings.with_overrides(hostname="test-host.example", operator="Test Operator",
                                   **overrides)


@dataclass
class Harness:
    settings: Settings
    storage: LocalStorage | MemoryStorage
    writer: WarcFileWriter
    opened: list[str]
    sealed: list[SealedFile]


def make_harness(tmp_path: Path, storage=None, writer_class=WarcFileWriter, **overrides) -> Harness:
    settings = make_settings(tmp_path, **overrides)
    storage = storage if storage is not None else open_storage(settings.storage_url)
    opened, sealed = [], []
    writer = writer_class(settings, storage, on_open=opened.append, on_seal=sealed.append)
    _TO_CLOSE.append(writer)
    return Harness(settings, storage, writer, opened, sealed)


@pytest.fixture
def harness(tmp_path) -> Harness:
    return make_harness(tmp_path)


def records_of(data: bytes) -> list[tuple]:
    """(record, block bytes after HTTP headers, offset, length), digests checked or raised."""
    out = []
    iterator = ArchiveIterator(io.BytesIO(data), check_digests="raise")
    for record in iterator:
        body = record.raw_stream.read()
        assert record.digest_checker.passed is not False
        out.append((record, body, iterator.get_record_offset(), iterator.get_record_length()))
    return out


def whole_block(data: bytes, offset: int, length: int) -> bytes:
    """The exact block of the record whose gzip member is at (offset, length)."""
    member = zlib.decompress(data[offset:offset + length], zlib.MAX_WBITS + 16)
    head, _, rest = member.partition(b"\r\n\r\n")
    size = int([line.split(b":", 1)[1] for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")][0])
    assert rest[size:] == b"\r\n\r\n"
    return rest[:size]


# --- the records of one capture ----------------------------------------------------------

def test_capture_of_a_page_reads_back_with_verified_sha256_digests(harness, site):
    result = raw_fetch(site.url("/article"))
    written = harness.writer.write_capture(capture_of(result, text=page_text(),
                                                      text_metadata={"title": ARTICLE_TITLE}))
    assert harness.opened == [written.filename]
    open_path = harness.settings.open_warc_dir / f"{written.filename}.open"
    data = open_path.read_bytes()      # durable and readable before sealing

    records = records_of(data)
    types = [r.rec_type for r, *_ in records]
    assert types == ["warcinfo", "response", "request", "metadata", "conversion", "metadata"]
    for record, _, _, _ in records:
        assert record.rec_headers.protocol == "WARC/1.1"
        assert record.rec_headers.get_header("WARC-Block-Digest").startswith("sha256:")
        if record.rec_type != "warcinfo":
            assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha256:")

    # the locations we returned are the gzip members warcio finds
    assert [(loc.offset, loc.length) for loc in written.records] == [(o, n) for _, _, o, n in records[1:]]
    assert [loc.record_type for loc in written.records] == types[1:]
    for loc, (record, *_rest) in zip(written.records, records[1:]):
        assert loc.record_id == record.rec_headers.get_header("WARC-Record-ID")
        assert loc.block_digest == record.rec_headers.get_header("WARC-Block-Digest")
        assert loc.payload_digest == record.rec_headers.get_header("WARC-Payload-Digest")
        assert loc.target_uri == record.rec_headers.get_header("WARC-Target-URI")

    exchange = result.final
    response, request, meta, conversion, text_meta = [r for r, *_ in records[1:]]
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    # response: exact wire bytes, payload digest over the body
    exchange.response_file.seek(0)
    assert whole_block(data, written.records[0].offset, written.records[0].length) == \
        exchange.response_file.read()
    assert records[1][1] == ARTICLE
    assert response.http_headers.get_statuscode() == "200"
    assert response.rec_headers.get_header("WARC-Target-URI") == site.url("/article")
    assert response.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert response.rec_headers.get_header("WARC-Date").startswith(
        exchange.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert response.rec_headers.get_header("WARC-Truncated") is None
    assert response.rec_headers.get_header("Content-Type") == "application/http; msgtype=response"
    # request: exact bytes sent, concurrent to its response
    assert whole_block(data, written.records[1].offset, written.records[1].length) == exchange.request_bytes
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response_id
    assert request.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    # metadata: the provenance JSON
    assert meta.rec_headers.get_header("Content-Type") == "application/json"
    assert meta.rec_headers.get_header("WARC-Concurrent-To") == response_id
    assert json.loads(records[3][1]) == capture_of(result).provenance
    # conversion: the text, pointing at the response
    assert conversion.rec_headers.get_header("Content-Type") == "text/plain; charset=utf-8"
    assert conversion.rec_headers.get_header("WARC-Refers-To") == response_id
    assert conversion.rec_headers.get_header("WARC-Target-URI") == site.url("/article")
    assert records[4][1].decode("utf-8") == page_text()
    assert json.loads(records[5][1]) == {"title": ARTICLE_TITLE}
    assert text_meta.rec_headers.get_header("WARC-Refers-To") == \
        conversion.rec_headers.get_header("WARC-Record-ID")


def test_warcinfo_names_the_software_and_the_file(harness, site):
    written = harness.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    record, body, offset, _ = records_of(data)[0]
    assert offset == 0 and record.rec_type == "warcinfo"
    assert record.rec_headers.get_header("WARC-Filename") == written.filename
    assert record.rec_headers.get_header("Content-Type") == "application/warc-fields"
    fields = dict(line.split(": ", 1) for line in body.decode().splitlines())
    import archiver
    from importlib.metadata import version
    assert fields["software"].startswith(f"archiver/{archiver.__version__} (Python/")
    assert f"warcio/{version('warcio')}" in fields["software"]
    assert f"requests/{version('requests')}" in fields["software"]
    assert fields["format"] == "WARC File Format 1.1"
    assert fields["conformsTo"].startswith("http://iipc.github.io/warc-specifications/")
    assert fields["hostname"] == "test-host.example" and fields["operator"] == "Test Operator"


def test_file_names_follow_the_pattern(harness, site):
    harness.writer.now = lambda: datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)
    written = harness.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    assert written.filename == f"archiver-20260304050607890123-test-host.example-{os.getpid()}-00001.warc.gz"
    parsed = parse_filename(written.filename + ".open")
    assert (parsed.hostname, parsed.pid, parsed.serial) == ("test-host.example", os.getpid(), 1)
    assert safe_hostname("we/ird host:name") == "we_ird_host_name"
    assert safe_hostname("") == "unknown-host"


@pytest.mark.parametrize("path", ["/chunked", "/gzip", "/odd-headers", "/missing", "/bare-lf"])
def test_wire_bytes_are_kept_verbatim_and_digests_verify(harness, site, path):
    result = raw_fetch(site.url(path))
    written = harness.writer.write_capture(capture_of(result))
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    records = records_of(data)
    response = written.records[0]
    result.final.response_file.seek(0)
    wire = result.final.response_file.read()
    assert whole_block(data, response.offset, response.length) == wire
    _, body, _, _ = records[1]
    assert body == (wire.partition(b"\n\n")[2] if path == "/bare-lf" else wire.partition(b"\r\n\r\n")[2])
    assert verify_warc_file(io.BytesIO(data)).ok
    record = parse_record(data[response.offset:response.offset + response.length])
    if path == "/chunked":
        assert body != ARTICLE and record.content_stream().read() == ARTICLE
    if path == "/gzip":
        assert record.content_stream().read() == ARTICLE
    if path in ("/bare-lf", "/odd-headers"):
        assert body == ARTICLE
    if path == "/missing":
        assert record.http_headers.get_statuscode() == "404"


def test_redirect_chain_gets_a_request_and_response_per_hop(harness, site):
    result = raw_fetch(site.url("/redirect"))
    assert [e.status for e in result.exchanges] == [302, 200]
    written = harness.writer.write_capture(capture_of(result, text=page_text()))
    kinds = [(loc.record_type, loc.target_uri) for loc in written.records]
    assert kinds == [("response", site.url("/redirect")), ("request", site.url("/redirect")),
                     ("response", site.url("/article")), ("request", site.url("/article")),
                     ("metadata", "urn:archiver:provenance:" + site.url("/article")),
                     ("conversion", site.url("/article"))]
    final_response = written.records[2].record_id
    assert written.records[1].refers_to == written.records[0].record_id
    assert written.records[4].refers_to == final_response
    assert written.records[5].refers_to == final_response
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    assert verify_warc_file(io.BytesIO(data)).ok


@pytest.mark.parametrize("path", ["/article", "/odd-headers", "/bare-lf", "/chunked", "/redirect"])
def test_each_location_keeps_the_head_of_its_record(harness, site, path):
    """The WARC headers as written, then for HTTP records the HTTP headers as warcio's reader
    parses them: what the replay index reads instead of the stored record."""
    written = harness.writer.write_capture(capture_of(raw_fetch(site.url(path)), text=page_text(),
                                                      text_metadata={"title": ARTICLE_TITLE}))
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    for loc in written.records:
        member = data[loc.offset:loc.offset + loc.length]
        warc_headers, _, rest = zlib.decompress(member, zlib.MAX_WBITS + 16).partition(b"\r\n\r\n")
        assert loc.head.startswith(warc_headers + b"\r\n\r\n")
        http_headers = loc.head[len(warc_headers) + 4:]
        [(record, payload, _, _)] = records_of(member)
        assert rest == http_headers + payload + b"\r\n\r\n"
        assert bool(http_headers) == (loc.record_type in ("response", "request")), loc.record_type


def test_a_hop_without_response_gets_only_its_request(harness, site):
    result = raw_fetch(site.url("/article"))
    dead = Exchange(url="http://127.0.0.1:9/nothing", ip="127.0.0.1", port=9,
                    started_at=datetime.now(timezone.utc), ended_at=datetime.now(timezone.utc),
                    request_bytes=b"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n")
    result.exchanges.append(dead)
    result.error_code, result.error = "connect", "connection refused"
    written = harness.writer.write_capture(capture_of(result, text=page_text()))
    kinds = [(loc.record_type, loc.target_uri) for loc in written.records]
    assert kinds[:3] == [("response", site.url("/article")), ("request", site.url("/article")),
                         ("request", "http://127.0.0.1:9/nothing")]
    assert written.records[2].refers_to is None
    # metadata and conversion belong to the last response that came
    assert written.records[3].refers_to == written.records[0].record_id
    assert written.records[4].record_type == "conversion"
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    record = records_of(data)[3][0]
    assert record.rec_headers.get_header("WARC-Concurrent-To") is None


def test_truncated_exchange_is_marked(harness, site):
    result = raw_fetch(site.url("/noise"))
    cut = result.final
    cut.response_file.seek(0)
    partial = cut.response_file.read()[:5000]
    cut.response_file.close()
    cut.response_file = tempfile.SpooledTemporaryFile()
    cut.response_file.write(partial)
    cut.truncated = "length"
    written = harness.writer.write_capture(capture_of(result))
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    record = records_of(data)[1][0]
    assert record.rec_headers.get_header("WARC-Truncated") == "length"
    assert whole_block(data, written.records[0].offset, written.records[0].length) == partial
    assert verify_warc_file(io.BytesIO(data)).ok


# --- sealing, storage, tools --------------------------------------------------------------

def test_seal_puts_the_file_into_storage_and_tools_accept_it(harness, site):
    captures = {path: raw_fetch(site.url(path)) for path in ("/article", "/redirect", "/missing")}
    written = [harness.writer.write_capture(capture_of(r, i, text=page_text()))
               for i, r in enumerate(captures.values(), 1)]
    sealed = harness.writer.seal()
    assert harness.sealed == [sealed]
    assert sealed.key == written[0].filename and sealed.record_count == 1 + sum(len(w.records) for w in written)
    assert not list(harness.settings.open_warc_dir.iterdir()), "local copy left behind"
    path = harness.settings.warc_dir / sealed.key
    data = path.read_bytes()
    assert sealed.size == len(data) == harness.storage.size(sealed.key)
    assert sealed.sha256 == hashlib.sha256(data).hexdigest()

    report = verify_warc_file(path)
    assert report.ok, report.problems
    assert (report.size, report.sha256, report.record_count) == (sealed.size, sealed.sha256,
                                                                 sealed.record_count)

    check = subprocess.run([BIN / "warcio", "check", "-v", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == sealed.record_count

    index = subprocess.run([BIN / "cdxj-indexer", str(path)], capture_output=True, text=True)
    assert index.returncode == 0, index.stderr
    lines = {}
    for line in index.stdout.splitlines():
        _key, stamp, doc = line.split(" ", 2)
        doc = json.loads(doc)
        lines[(doc["url"], doc["offset"])] = (stamp, doc)
    responses = [loc for w in written for loc in w.records if loc.record_type == "response"]
    assert len(responses) == 4
    for loc in responses:
        stamp, doc = lines[(loc.target_uri, str(loc.offset))]
        assert doc["length"] == str(loc.length) and doc["digest"] == loc.payload_digest
        assert doc["filename"] == sealed.key and len(stamp) == 14
    statuses = {doc["url"]: doc.get("status") for _, doc in lines.values()}
    assert statuses[site.url("/article")] == "200" and statuses[site.url("/redirect")] == "302"
    assert statuses[site.url("/missing")] == "404"
    # metadata records are indexed under their URN, never under the page's URL
    assert {doc.get("mime") for (url, _), (_, doc) in lines.items() if url.startswith("urn:")} == \
        {"application/json"}
    assert {doc.get("mime") for (url, _), (_, doc) in lines.items() if url.startswith("http")} == \
        {"text/html", None}         # the redirect has no Content-Type


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_single_records_read_by_byte_range_before_and_after_sealing(tmp_path, site, backend):
    h = make_harness(tmp_path, storage=MemoryStorage() if backend == "memory" else None)
    written = h.writer.write_capture(capture_of(raw_fetch(site.url("/article")), text=page_text()))

    def check_all():
        for loc in written.records:
            record = read_record(h.storage, h.settings, written.filename, loc.offset, loc.length,
                                 check_digests=True)
            body = record.raw_stream.read()
            assert record.digest_checker.passed is True and not record.digest_checker.problems
            assert record.rec_type == loc.record_type
            assert record.rec_headers.get_header("WARC-Record-ID") == loc.record_id
            if loc.record_type == "response":
                assert body == ARTICLE
            if loc.record_type == "conversion":
                assert body.decode() == page_text()

    check_all()                       # from the .open file
    sealed = h.writer.seal()
    assert h.storage.exists(sealed.key)
    check_all()                       # from storage
    with pytest.raises(KeyError):
        read_record(h.storage, h.settings, "archiver-nothing.warc.gz", 0, 10)


def test_rolling_makes_several_sealed_files_each_with_warcinfo(tmp_path, site):
    h = make_harness(tmp_path, warc_roll_bytes=100_000)
    noise = raw_fetch(site.url("/noise"))      # about 60 KB that gzip cannot shrink
    written = [h.writer.write_capture(capture_of(noise, i)) for i in range(1, 6)]
    h.writer.close()
    names = [w.filename for w in written]
    assert len(set(names)) == 3                # rolled after captures 2 and 4 (over 100 KB)
    assert names[0] == names[1] != names[2] == names[3] != names[4]
    assert h.opened == sorted(set(names)) == [s.key for s in h.sealed]
    assert not list(h.settings.open_warc_dir.glob("*")), "a file stayed in the open folder"
    assert sorted(h.storage.keys()) == sorted(set(names))
    for sealed in h.sealed:
        data = h.storage.read_range(sealed.key, 0, sealed.size)
        assert len(data) == sealed.size == h.storage.size(sealed.key)
        assert hashlib.sha256(data).hexdigest() == sealed.sha256
        records = records_of(data)
        assert records[0][0].rec_type == "warcinfo"
        assert records[0][0].rec_headers.get_header("WARC-Filename") == sealed.key
        assert len(records) == sealed.record_count
        assert verify_warc_file(io.BytesIO(data)).ok
    assert [s.record_count for s in h.sealed] == [7, 7, 4]
    # the writer goes on after close: the next capture opens a new file
    again = h.writer.write_capture(capture_of(noise, 6))
    assert again.filename not in names
    assert h.writer.close().key == again.filename
    assert h.writer.seal() is None


def test_concurrent_captures_from_threads_do_not_interleave(harness, site):
    results = [raw_fetch(site.url(p)) for p in ("/article", "/chunked", "/gzip", "/missing")] * 3
    written = []
    lock = threading.Lock()

    def work(i, result):
        w = harness.writer.write_capture(capture_of(result, i))
        with lock:
            written.append(w)

    # each thread needs its own response file handle position: give each its own copy
    copies = []
    for result in results:
        clone = []
        for ex in result.exchanges:
            ex.response_file.seek(0)
            spool = tempfile.SpooledTemporaryFile()
            spool.write(ex.response_file.read())
            clone.append(Exchange(**{**ex.__dict__, "response_file": spool}))
        copies.append(FetchResult(result.requested_url, clone))
        _TO_CLOSE.append(copies[-1])
    threads = [threading.Thread(target=work, args=(i, r)) for i, r in enumerate(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sealed = harness.writer.seal()
    data = harness.storage.read_range(sealed.key, 0, sealed.size)
    found = {o: n for _, _, o, n in records_of(data)}
    locations = [loc for w in written for loc in w.records]
    assert len(locations) == len(found) - 1 == 12 * 3
    for loc in locations:
        assert found[loc.offset] == loc.length


# --- deterministic output -----------------------------------------------------------------

class PinnedWriter(WarcFileWriter):
    """Time and ids from counters: the same captures give the same bytes."""
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ticks = 0
        self._ids = 0

    def now(self):
        self._ticks += 1
        return self.start + timedelta(milliseconds=self._ticks)

    def new_record_id(self):
        self._ids += 1
        return f"<urn:uuid:{uuid.UUID(int=self._ids)}>"


def test_pinned_clock_and_ids_give_byte_identical_files(tmp_path, site):
    fetched = datetime(2026, 1, 2, 3, 4, 0, 123456, tzinfo=timezone.utc)
    outputs = []
    for run in ("one", "two"):
        h = make_harness(tmp_path / run, writer_class=PinnedWriter)
        result = raw_fetch(site.url("/redirect"), started_at=fetched)
        h.writer.write_capture(capture_of(result, text=page_text(), text_metadata={"k": 1}))
        sealed = h.writer.close()
        outputs.append((sealed, h.storage.read_range(sealed.key, 0, sealed.size)))
    (first, one), (second, two) = outputs
    assert first == second and one == two
    record = records_of(one)[1][0]
    # the capture's records are planned (ids taken) before the new file's warcinfo
    assert record.rec_headers.get_header("WARC-Record-ID") == f"<urn:uuid:{uuid.UUID(int=1)}>"
    assert record.rec_headers.get_header("WARC-Date") == "2026-01-02T03:04:00.123456Z"


# --- failures leave no half capture ---------------------------------------------------------

def test_a_failing_capture_leaves_the_file_as_it_was(harness, site, monkeypatch):
    good = harness.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    path = harness.settings.open_warc_dir / f"{good.filename}.open"
    before = path.read_bytes()

    with pytest.raises(TypeError):      # provenance that is not JSON: refused before writing
        harness.writer.write_capture(CaptureRecords(1, raw_fetch(site.url("/article")),
                                                    provenance={"when": object()}))
    assert path.read_bytes() == before

    class Exploding(io.BytesIO):
        reads = 0

        def read(self, *args):
            Exploding.reads += 1
            if Exploding.reads > 1:      # a stream that fails after its first read
                raise OSError("disk went away")
            return super().read(*args)

    result = raw_fetch(site.url("/article"))
    result.final.response_file.seek(0)
    original = result.final.response_file
    result.final.response_file = Exploding(original.read())
    original.close()
    with monkeypatch.context() as patch:
        patch.setattr("archiver.warc.records.IN_MEMORY_BYTES", 0)   # read as a stream
        with pytest.raises(OSError, match="disk went away"):
            harness.writer.write_capture(capture_of(result))
    assert path.read_bytes() == before

    # a response held in memory is read before writing begins: the sink fails instead
    from archiver.warc.records import GzipMember
    writes = []

    def failing_write(self, data):
        writes.append(data)
        if len(writes) > 5:      # some records written, then the disk fails
            raise OSError("disk went away")
        return real_write(self, data)

    real_write = GzipMember.write
    with monkeypatch.context() as patch:
        patch.setattr(GzipMember, "write", failing_write)
        with pytest.raises(OSError, match="disk went away"):
            harness.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    assert path.read_bytes() == before
    after = harness.writer.write_capture(capture_of(raw_fetch(site.url("/article")), 3))
    assert after.filename == good.filename
    assert verify_warc_file(path).ok


def test_on_open_failure_removes_the_new_file(tmp_path, site):
    settings = make_settings(tmp_path)

    def refuse(name):
        raise RuntimeError("catalogue down")

    writer = WarcFileWriter(settings, open_storage(settings.storage_url), on_open=refuse)
    with pytest.raises(RuntimeError, match="catalogue down"):
        writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    assert not list(settings.open_warc_dir.iterdir())
    assert writer.seal() is None


class FlakyStorage(MemoryStorage):
    def __init__(self):
        super().__init__()
        self.fail = True

    def put(self, key, source_path, *, move=False):
        if self.fail:
            raise OSError("storage unreachable")
        return super().put(key, source_path, move=move)


def test_a_failed_seal_keeps_the_file_and_is_retried(tmp_path, site):
    storage = FlakyStorage()
    h = make_harness(tmp_path, storage=storage, warc_roll_bytes=1024)
    first = h.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))  # rolls, put fails
    assert h.sealed == [] and (h.settings.open_warc_dir / first.filename).exists()
    # the records stay readable from the local file meanwhile
    loc = first.records[0]
    assert read_record(storage, h.settings, first.filename, loc.offset, loc.length).rec_type == "response"
    with pytest.raises(SealError, match=first.filename):
        h.writer.seal()
    storage.fail = False
    h.writer.seal()
    assert [s.key for s in h.sealed] == [first.filename]
    assert storage.exists(first.filename) and not list(h.settings.open_warc_dir.iterdir())


# --- verification -------------------------------------------------------------------------------

@pytest.fixture
def sealed_file(harness, site) -> Path:
    harness.writer.write_capture(capture_of(raw_fetch(site.url("/noise")), text=page_text()))
    harness.writer.write_capture(capture_of(raw_fetch(site.url("/article")), 2))
    sealed = harness.writer.seal()
    return harness.settings.warc_dir / sealed.key


@pytest.mark.parametrize("cut", [40, 500, 3000])
def test_verify_finds_a_truncated_file(sealed_file, tmp_path, cut):
    data = sealed_file.read_bytes()
    short = tmp_path / f"short-{cut}.warc.gz"
    short.write_bytes(data[:-cut])
    report = verify_warc_file(short)
    assert not report.ok and report.truncated
    assert report.size == len(data) - cut
    assert verify_warc_file(sealed_file).ok


def test_verify_finds_trailing_garbage_and_bad_digests(sealed_file, tmp_path):
    data = sealed_file.read_bytes()
    report = verify_warc_file(io.BytesIO(data + b"\x00" * 100))
    assert not report.ok and report.garbage_bytes == 100

    # a record whose block was changed but whose gzip member is intact
    members = verify_warc_file(sealed_file).records
    target = [m for m in members if m.record_type == "conversion"][0]
    block = zlib.decompress(data[target.offset:target.offset + target.length], zlib.MAX_WBITS + 16)
    forged = gzip.compress(block.replace(ARTICLE_TEXT.encode(), ARTICLE_TEXT.upper().encode()))
    tampered = data[:target.offset] + forged + data[target.offset + target.length:]
    report = verify_warc_file(io.BytesIO(tampered))
    assert not report.ok
    assert any("digest failed" in p for p in report.problems), report.problems

    # a digest that cannot be checked is a failure, not a pass
    unknown = gzip.compress(block.replace(b"WARC-Block-Digest: sha256:", b"WARC-Block-Digest: nosuch:"))
    report = verify_warc_file(io.BytesIO(data[:target.offset] + unknown
                                         + data[target.offset + target.length:]))
    assert not report.ok

    # records glued into one gzip member are refused: they cannot be read by byte range
    glued = gzip.compress(gzip.decompress(data[:members[1].offset + members[1].length]))
    report = verify_warc_file(io.BytesIO(glued))
    assert not report.ok and any("one gzip member" in p for p in report.problems)
    assert not verify_warc_file(io.BytesIO(b"")).ok


# --- recovery --------------------------------------------------------------------------------------

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def abandon(writer: WarcFileWriter, pid: int) -> Path:
    """Make the writer's open file look like one a dead process `pid` left behind."""
    current = writer._file
    current.handle.close()            # releases the lock, as the process's death would
    writer._file = None
    parsed = parse_filename(current.path.name)
    new_name = current.name.replace(f"-{parsed.pid}-", f"-{pid}-") + ".open"
    target = current.path.with_name(new_name)
    current.path.rename(target)
    return target


def test_recovery_cuts_a_partial_record_and_seals(tmp_path, site):
    h = make_harness(tmp_path)
    written = h.writer.write_capture(capture_of(raw_fetch(site.url("/article")), text=page_text()))
    whole = (h.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    with open(h.settings.open_warc_dir / f"{written.filename}.open", "ab") as handle:
        handle.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" + os.urandom(5000))[:700])
    path = abandon(h.writer, _dead_pid())
    report = verify_warc_file(path)
    assert not report.ok and report.truncated

    found = []
    sealed = recover_open_files(h.settings, h.storage, on_seal=found.append)
    assert sealed == found and len(sealed) == 1
    key = sealed[0].key
    assert not key.endswith(".open") and not list(h.settings.open_warc_dir.iterdir())
    data = h.storage.read_range(key, 0, h.storage.size(key))
    assert data == whole
    assert sealed[0].sha256 == hashlib.sha256(whole).hexdigest()
    assert sealed[0].record_count == 1 + len(written.records)
    assert verify_warc_file(io.BytesIO(data)).ok
    assert warcio_check_bytes(data, tmp_path) == 0


def warcio_check(path: Path) -> int:
    return subprocess.run([BIN / "warcio", "check", str(path)], capture_output=True).returncode


def warcio_check_bytes(data: bytes, folder: Path) -> int:
    path = folder / "check.warc.gz"
    path.write_bytes(data)
    return warcio_check(path)


def test_recovery_leaves_live_and_foreign_files_alone(tmp_path, site):
    h = make_harness(tmp_path)
    live = h.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    # the live writer's own file: locked, never taken, even with all_files
    assert recover_open_files(h.settings, h.storage, all_files=True) == []
    assert (h.settings.open_warc_dir / f"{live.filename}.open").exists()

    other = make_harness(tmp_path / "other")
    other.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    dead = abandon(other.writer, _dead_pid())
    foreign = dead.with_name(dead.name.replace("test-host.example", "elsewhere"))
    moved = shutil.move(dead, h.settings.open_warc_dir / foreign.name)
    # another host's file is left unless all_files
    assert recover_open_files(h.settings, h.storage) == []
    sealed = recover_open_files(h.settings, h.storage, all_files=True)
    assert [s.key for s in sealed] == [Path(moved).name.removesuffix(".open")]
    assert (h.settings.open_warc_dir / f"{live.filename}.open").exists()
    assert h.writer.seal().key == live.filename


def test_recovery_removes_a_file_without_any_whole_record(tmp_path):
    settings = make_settings(tmp_path)
    settings.open_warc_dir.mkdir(parents=True)
    name = f"archiver-20260101000000000000-test-host.example-{_dead_pid()}-00001.warc.gz.open"
    (settings.open_warc_dir / name).write_bytes(gzip.compress(b"WARC/1.1\r\n" + os.urandom(500))[:50])
    assert recover_open_files(settings, MemoryStorage()) == []
    assert not list(settings.open_warc_dir.iterdir())


def test_recovery_stores_a_renamed_file_whose_put_failed(tmp_path, site):
    storage = FlakyStorage()
    h = make_harness(tmp_path, storage=storage, warc_roll_bytes=1024)
    first = h.writer.write_capture(capture_of(raw_fetch(site.url("/article"))))
    leftover = h.settings.open_warc_dir / first.filename
    assert leftover.exists()
    dead = leftover.with_name(first.filename.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-"))
    leftover.rename(dead)
    storage.fail = False
    sealed = recover_open_files(h.settings, storage)
    assert [s.key for s in sealed] == [dead.name] and storage.exists(dead.name)
    assert sealed[0].record_count == 1 + len(first.records)


def test_a_response_cut_inside_its_headers_still_verifies(harness, site):
    result = raw_fetch(site.url("/article"))
    cut = result.final
    cut.response_file.close()
    cut.response_file = tempfile.SpooledTemporaryFile()
    cut.response_file.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/ht")
    cut.truncated = "time"
    written = harness.writer.write_capture(capture_of(result))
    data = (harness.settings.open_warc_dir / f"{written.filename}.open").read_bytes()
    record, body, _, _ = records_of(data)[1]
    assert body == b"" and record.rec_headers.get_header("WARC-Truncated") == "time"
    assert whole_block(data, written.records[0].offset, written.records[0].length) == \
        b"HTTP/1.1 200 OK\r\nContent-Type: text/ht"
    assert verify_warc_file(io.BytesIO(data)).ok


def test_a_forked_child_writes_its_own_file_not_its_parents(tmp_path, site):
    h = make_harness(tmp_path)
    result = raw_fetch(site.url("/article"))
    parent_file = h.writer.write_capture(capture_of(result, 1)).filename
    pid = os.fork()
    if pid == 0:                                  # the child: write, seal, report by exit code
        code = 1
        try:
            result.final.response_file.seek(0)
            child = h.writer.write_capture(capture_of(result, 2))
            sealed = h.writer.seal()
            code = 0 if child.filename != parent_file and sealed.key == child.filename else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's file is untouched by the child and goes on
    again = h.writer.write_capture(capture_of(result, 3))
    assert again.filename == parent_file
    sealed = h.writer.seal()
    data = h.storage.read_range(sealed.key, 0, sealed.size)
    assert verify_warc_file(io.BytesIO(data)).ok and sealed.record_count == 1 + 3 + 3
    assert len(list(h.storage.keys())) == 2


@pytest.mark.parametrize("record_type", ["metadata", "conversion", "resource", "warcinfo"])
def test_plain_records_are_the_ones_warcio_makes_when_it_digests_them_itself(record_type):
    """plain_record hashes its data once for both digests; warcio, left to it, hashes twice.
    The record written must be the same byte for byte."""
    from archiver.warc.records import Sha256WARCWriter, plain_record, warc_headers

    fields = [("WARC-Type", record_type), ("WARC-Record-ID", f"<urn:uuid:{uuid.UUID(int=7)}>"),
              ("WARC-Date", "2026-01-02T03:04:05.000006Z"),
              ("WARC-Target-URI", "http://example.test/"),
              ("WARC-Concurrent-To", None)]
    data = "Caf\u00e9 cr\u00e8me.\r\n".encode("utf-8") * 20000   # over warcio's read size

    def written(make_record) -> bytes:
        builder = Sha256WARCWriter()
        builder.out = io.BytesIO()
        builder.write_record(make_record(builder))
        return builder.out.getvalue()

    ours = written(lambda b: plain_record(b, record_type, fields, data,
                                          "text/plain; charset=utf-8"))
    warcios = written(lambda b: b.create_warc_record(
        "", record_type, payload=io.BytesIO(data), length=len(data),
        warc_content_type="text/plain; charset=utf-8", warc_headers=warc_headers(fields)))
    assert ours == warcios
    assert b"WARC-Block-Digest: sha256:" in ours
    assert (b"WARC-Payload-Digest: " in ours) == (record_type != "warcinfo")


@pytest.mark.parametrize("path", ["/article", "/redirect", "/gzip", "/missing"])
def test_a_payload_digest_taken_from_the_fetch_gives_the_same_file_as_hashing(tmp_path, site, path):
    """With `payload_offset` set (the body copied as it is from where the headers end), the
    writer states the fetcher's payload_sha256 instead of hashing the body again: the
    file must be byte for byte the one hashing gives."""
    fetched = datetime(2026, 1, 2, 3, 4, 0, 123456, tzinfo=timezone.utc)
    outputs = []
    for run, offset_known in (("hashed", False), ("taken", True)):
        h = make_harness(tmp_path / run, writer_class=PinnedWriter)
        result = raw_fetch(site.url(path), started_at=fetched)
        for exchange in result.exchanges:
            exchange.response_file.seek(0)
            wire = exchange.response_file.read()
            exchange.response_file.seek(0)
            if offset_known:
                exchange.payload_offset = wire.index(b"\r\n\r\n") + 4
        h.writer.write_capture(capture_of(result, text=page_text(), text_metadata={"k": 1}))
        sealed = h.writer.close()
        outputs.append(h.storage.read_range(sealed.key, 0, sealed.size))
    assert outputs[0] == outputs[1]
    records_of(outputs[1])          # digests checked


@pytest.mark.parametrize("path", ["/article", "/redirect", "/odd-headers", "/bare-lf", "/chunked", "/noise"])
def test_a_response_read_into_memory_gives_the_same_file_as_streaming_it(tmp_path, site, path,
                                                                         monkeypatch):
    """Responses up to IN_MEMORY_BYTES are read once and hashed as bytes; larger ones are
    streamed. Both ways must write the same file, byte for byte, and the same heads."""
    fetched = datetime(2026, 1, 2, 3, 4, 0, 123456, tzinfo=timezone.utc)
    outputs, heads = [], []
    for run, limit in (("memory", 1024 * 1024), ("stream", 0)):
        monkeypatch.setattr("archiver.warc.records.IN_MEMORY_BYTES", limit)
        h = make_harness(tmp_path / run, writer_class=PinnedWriter)
        written = h.writer.write_capture(capture_of(raw_fetch(site.url(path), started_at=fetched),
                                                    text=page_text(), text_metadata={"k": 1}))
        heads.append([loc.head for loc in written.records])
        sealed = h.writer.close()
        outputs.append(h.storage.read_range(sealed.key, 0, sealed.size))
    assert outputs[0] == outputs[1] and heads[0] == heads[1]
    records_of(outputs[0])          # digests checked


def test_a_fetched_payload_digest_is_not_taken_for_other_bytes(site):
    """A payload_sha256 over bytes that are not the record's payload (an offset that is not
    where the headers end, or a length that differs) is not stated: the body is hashed."""
    from archiver.warc.records import fetched_payload_digest, http_block_digests, http_header_length

    exchange = raw_fetch(site.url("/article")).final
    length = exchange.response_length
    header_length = http_header_length(exchange.response_file, length)
    _, hashed = http_block_digests(exchange.response_file, length, header_length)
    exchange.payload_offset = header_length
    assert fetched_payload_digest(exchange, length, header_length) == hashed
    assert fetched_payload_digest(exchange, length - 1, header_length) is None
    exchange.payload_offset = header_length - 2
    assert fetched_payload_digest(exchange, length, header_length) is None
    exchange.payload_offset = None
    assert fetched_payload_digest(exchange, length, header_length) is None

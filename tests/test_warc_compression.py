"""The gzip engine of WARC records (ISA-L or zlib), and the shortcuts of the capture path
that bench/capture.py measured: one evidence-log append per capture, and a replay index
that reads back only the records it indexes. Real captures from the loopback site."""
from __future__ import annotations

import dataclasses
import gzip
import io
import random
import zlib
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import ConfigError
from archiver.fetch.types import Exchange, FetchResult
from archiver.ledger.keys import load_or_create_key
from archiver.ledger.log import check_log, sign_current_head
from archiver.ledger.models import LedgerEntry
from archiver.replay.heads import read_head
from archiver.replay.index import capture_lines, cdxj_lines, head_lines, headers_only
from archiver.warc import CaptureRecords, WarcFileWriter, record_bytes, verify_warc_file
from archiver.warc.compression import compressobj_factory
from archiver.warc.records import Resource, Revisit, http_block_digests
from storage import open_storage
from tests.conftest import capture_now as capture, make_settings


def test_the_default_engine_is_isal_at_level_2_and_zlib_keeps_level_6(tmp_path):
    default = make_settings(tmp_path)
    assert (default.warc_gzip_engine, default.warc_gzip_level) == ("isal", 2)
    plain = make_settings(tmp_path, ARCHIVER_WARC_GZIP_ENGINE="zlib")
    assert (plain.warc_gzip_engine, plain.warc_gzip_level) == ("zlib", 6)
    assert make_settings(tmp_path, ARCHIVER_WARC_GZIP_ENGINE="ISAL",
                         ARCHIVER_WARC_GZIP_LEVEL=3).warc_gzip_level == 3


@pytest.mark.parametrize("env, words", [
    ({"ARCHIVER_WARC_GZIP_ENGINE": "brotli"}, ["not a gzip engine", "isal", "zlib"]),
    ({"ARCHIVER_WARC_GZIP_LEVEL": "6"}, ["not a level of the isal engine", "1 to 3"]),
    ({"ARCHIVER_WARC_GZIP_ENGINE": "zlib", "ARCHIVER_WARC_GZIP_LEVEL": "0"}, ["ARCHIVER_WARC_GZIP_LEVEL"]),
])
def test_a_bad_engine_or_level_is_refused_saying_what_to_use(tmp_path, env, words):
    with pytest.raises(ConfigError) as err:
        make_settings(tmp_path, **env)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("engine, level", [("isal", 1), ("isal", 2), ("isal", 3), ("zlib", 1), ("zlib", 6)])
def test_each_engine_writes_one_standard_gzip_member_per_record(make_ctx, fixture_site, engine, level):
    ctx = make_ctx(warc_gzip_engine=engine, warc_gzip_level=level)
    row = capture(ctx, fixture_site.url("/article"))
    assert row.state == "stored", row.error
    path = ctx.settings.open_warc_dir / f"{row.warc_file.filename}.open"
    data = path.read_bytes()
    for loc in row.records:
        member = data[loc.offset:loc.offset + loc.length]
        inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
        inflater.decompress(member)
        assert inflater.eof and not inflater.unused_data, f"{loc.record_type} is not exactly one member"
        [record] = list(ArchiveIterator(io.BytesIO(member), check_digests="raise"))
        assert record.rec_headers["WARC-Record-ID"] == loc.record_id
    assert gzip.decompress(data).startswith(b"WARC/1.1")     # Python's own gzip reads it all
    # made by the engine asked for: its deflate of the record, byte for byte
    response = next(loc for loc in row.records if loc.record_type == "response")
    member = data[response.offset:response.offset + response.length]
    packer = compressobj_factory(engine)(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    assert packer.compress(gzip.decompress(member)) + packer.flush() == member
    report = verify_warc_file(path)
    assert report.ok, report.problems
    assert report.record_count == 1 + len(row.records)        # the warcinfo record, then the capture's


def test_isal_compresses_as_well_as_zlib_does_at_its_fast_levels(make_ctx, fixture_site):
    """ISA-L level 2 against zlib level 3 (the last of zlib's fast levels) on a 100 KB page."""
    rng = random.Random(7)
    vocabulary = ["".join(rng.choices("etaoinshrdlucmfwyp", k=rng.randint(2, 9))) for _ in range(2000)]
    paragraphs = ["<p>" + " ".join(rng.choices(vocabulary, k=80)) + ".</p>" for _ in range(200)]
    fixture_site.set_page("/long", "<html><body><article>" + "\n".join(paragraphs) + "</article></body></html>",
                          content_type="text/html; charset=utf-8")
    sizes = {}
    for engine, level in (("isal", 2), ("zlib", 3)):
        ctx = make_ctx(warc_gzip_engine=engine, warc_gzip_level=level)
        row = capture(ctx, fixture_site.url(f"/long?engine={engine}"))   # not a revisit of the other
        response = next(r for r in row.records if r.record_type == "response")
        sizes[engine] = response.length
    assert sizes["isal"] <= sizes["zlib"] * 1.02, sizes


def test_a_capture_gets_consecutive_log_entries_under_one_append(ctx, fixture_site):
    """fetched, text_extracted, stored: appended together, after the submission's own event."""
    row = capture(ctx, fixture_site.url("/article"))
    with ctx.sessions() as session:
        entries = session.query(LedgerEntry).order_by(LedgerEntry.position).all()
        mine = [e for e in entries if e.capture_id == row.id]
        assert [e.event for e in mine][-3:] == ["fetched", "text_extracted", "stored"]
        positions = [e.position for e in mine[-3:]]
        assert positions == list(range(positions[0], positions[0] + 3))
        assert [e.position for e in entries] == list(range(len(entries)))     # no gaps
        stored = mine[-1].details
        assert [r["offset"] for r in stored["records"]] == [r.offset for r in row.records]
    key = load_or_create_key(ctx.settings.data_dir)
    sign_current_head(ctx.sessions, key)
    with ctx.sessions() as session:
        report = check_log(session, key.public_key())
        assert report.ok and report.entries == len(entries), report.problems


@pytest.mark.parametrize("path", ["/article", "/404", "/redirect/2", "/doc.pdf", "/image.png",
                                  "/plain.txt", "/gzip", "/chunked"])
def test_the_index_gets_the_lines_cdxj_indexer_makes_of_the_whole_records(ctx, fixture_site, path):
    """Request and conversion records are skipped by type and the rest cut to their headers
    (archiver/replay/index.py capture_lines); cdxj-indexer over every whole record of the
    capture makes exactly the same lines. `/article` twice: the second is a revisit."""
    url = fixture_site.url(path)
    if path == "/article":
        capture(ctx, url)
    row = capture(ctx, url)
    assert row.state == "stored", row.error
    filename, storage = row.warc_file.filename, ctx.writer.storage
    every = [(r.offset, record_bytes(storage, ctx.settings, filename, r.offset, r.length))
             for r in sorted(row.records, key=lambda r: r.offset)]
    full = cdxj_lines(every, filename)
    assert full and capture_lines(ctx.settings, storage, filename, row.records) == full
    # ... by the short way: every record we write states its payload digest
    indexed = [data for (offset, data), r in zip(every, sorted(row.records, key=lambda r: r.offset))
               if r.record_type not in ("request", "conversion")]
    assert all(headers_only(data) is not None for data in indexed)
    if path == "/article":
        assert row.revisit_of and '"mime": "warc/revisit"' in "\n".join(full)


def test_a_record_without_a_payload_digest_is_indexed_whole(ctx, fixture_site):
    """cdxj-indexer digests such a record's payload (records of other tools): it must see it all."""
    row = capture(ctx, fixture_site.url("/plain.txt"))
    data = (ctx.settings.open_warc_dir / f"{row.warc_file.filename}.open").read_bytes()
    response = next(r for r in row.records if r.record_type == "response")
    member = data[response.offset:response.offset + response.length]
    assert headers_only(member) is not None
    record = gzip.decompress(member).replace(b"WARC-Payload-Digest:", b"X-Not-A-Digest:", 1)
    assert headers_only(gzip.compress(record)) is None


def test_what_is_not_a_gzip_warc_record_is_left_to_the_whole_record_path():
    arc_header = b"filedesc://old.arc 0.0.0.0 20200101000000 text/plain 70\n1 0 test\n\n"
    assert headers_only(gzip.compress(arc_header)) is None
    assert headers_only(b"these bytes are not gzip") is None
    assert headers_only(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n")) is None   # cut short


# --- the replay index from the heads the writer keeps ------------------------------------

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)
HTML = [("Content-Type", "text/html; charset=utf-8")]


def _response(status: str, headers: list[tuple[str, str]], body: bytes = b"<p>words</p>") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)).encode() + b"\r\n" + body


def _exchange(url: str, response: bytes | None, ip: str = "127.0.0.1",
              truncated: str | None = None) -> Exchange:
    parts = urlsplit(url)
    request = f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode("utf-8")
    return Exchange(url=url, ip=ip, port=80, started_at=MOMENT, ended_at=MOMENT, request_bytes=request,
                    response_file=io.BytesIO(response) if response is not None else None,
                    response_length=len(response or b""), truncated=truncated)


def _capture(*hops: Exchange, text: bool = True, **fields) -> CaptureRecords:
    fetch = FetchResult(requested_url=hops[0].url, exchanges=list(hops))
    return CaptureRecords(capture_id=1, fetch=fetch, provenance={"url": hops[0].url, "note": "caf\u00e9"},
                          text="Title\n\nwords" if text else None,
                          text_metadata={"title": "T\u00eftle"} if text else None, **fields)


def _odd_captures() -> list[CaptureRecords]:
    """Captures of many shapes: odd URLs and HTTP heads, redirects, requisites, resources,
    a revisit, responses without a status, a hop without a response."""
    urls = ["http://example.test/", "HTTP://Example.TEST:80/Path/../a?b=2&a=1#frag", "https://example.test",
            "http://b\u00fccher.example/stra\u00dfe?q=\u00fc&x=%7E", "http://example.test/a b?c d",
            "https://[2001:db8::1]:8443/x?y=1", "http://user:pw@www.example.test/%zz%41",
            "http://127.0.0.1:8080/article/1", "http://example.test/" + "long/" * 400,
            "ftp://example.test/file.txt", "dns:example.test", "https://example.test/\u65e5\u672c"]
    captures = [_capture(_exchange(url, _response("200 OK", HTML))) for url in urls]
    heads = [
        [("Content-Type", "TEXT/HTML ;charset=x")], [("Content-Type", "application/json\t; x=1")],
        [("Content-Type", "")], [], [("content-type", "image/png"), ("Content-Type", "text/css")],
        [("Content-Type", "text/html; name=\u00e9")],
    ]
    captures += [_capture(_exchange("http://example.test/h", _response("200 OK", h))) for h in heads]
    odd_heads = [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=\xe9\r\n\r\nlatin-1 in a header",
        b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\nContent-Type:\ttext/plain  \r\n\r\nfolded",
        b"HTTP/1.0 200 OK\nContent-Type: text/html\n\nbare line feeds",
        b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
        b"HTTP/1.1\r\nContent-Type: text/html\r\n\r\nno status code", b"HTTP/1.1 abc Weird\r\n\r\nx",
        b"not an http response at all", b"\r\n\r\nno status line", b"x",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 99\r\n",   # headers never end
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\nheaders over 64 KB",
    ]
    captures += [_capture(_exchange(f"http://example.test/odd/{n}", r)) for n, r in enumerate(odd_heads)]
    page = _response("200 OK", HTML)
    captures.append(_capture(_exchange("http://example.test/cut", page, truncated="length")))
    captures.append(_capture(_exchange("http://example.test/no-ip", _response("404 Not Found", HTML), ip="")))
    moved = _response("301 Moved", [("Location", "/new")], b"")
    captures.append(_capture(_exchange("http://example.test/old", moved),
                             _exchange("http://example.test/new", page)))
    captures.append(_capture(_exchange("http://example.test/gone", None), text=False))
    requisites = [FetchResult(u, [_exchange(u, _response("200 OK", [("Content-Type", t)]))])
                  for u, t in [("http://example.test/s.css", "text/css"),
                               ("http://cdn.example.test/i.png", "image/png")]]
    captures.append(_capture(_exchange("http://example.test/with", page), requisites=requisites))
    resources = [Resource("urn:screenshot:http://example.test/with", "image/png", b"\x89PNG", MOMENT),
                 Resource("urn:dom:http://example.test/with", "text/html; charset=utf-8", b"<html/>", MOMENT)]
    captures.append(_capture(_exchange("http://example.test/browser", page), resources=resources))
    seen = _response("200 OK", HTML, b"the same payload")
    _, digest = http_block_digests(io.BytesIO(seen), len(seen))
    earlier = Revisit("<urn:uuid:00000000-0000-0000-0000-000000000001>", "http://example.test/same",
                      "2026-01-01T00:00:00Z", digest)
    captures.append(_capture(_exchange("http://example.test/same", seen), revisit=earlier))
    return captures


def test_lines_from_the_writers_heads_are_the_lines_cdxj_indexer_makes_of_the_stored_records(tmp_path):
    """capture_lines given the writer's own locations (their heads, nothing read back)
    against cdxj-indexer over every whole record as stored, and against the read-back path."""
    settings = make_settings(tmp_path)
    storage = open_storage(settings.storage_url)
    writer = WarcFileWriter(settings, storage)
    shortcuts, long_way = 0, set()
    try:
        for capture_records in _odd_captures():
            written = writer.write_capture(capture_records)
            data = (settings.open_warc_dir / f"{written.filename}.open").read_bytes()
            members = [(r.offset, data[r.offset:r.offset + r.length]) for r in written.records]
            for loc, (_, member) in zip(written.records, members):     # the head starts the record
                assert loc.head is None or gzip.decompress(member).startswith(loc.head)
            whole = cdxj_lines(members, written.filename)
            lines = capture_lines(settings, storage, written.filename, written.records)
            assert lines == whole and lines, capture_records.fetch.requested_url
            read_back = [dataclasses.replace(r, head=None) for r in written.records]
            assert capture_lines(settings, storage, written.filename, read_back) == whole
            indexed = [r for r in written.records if r.record_type not in ("request", "conversion")]
            shortcuts += head_lines(indexed, written.filename) is not None
            long_way |= {r.target_uri.rsplit("/", 1)[-1] for r in indexed
                         if r.head is not None and read_head(r.head) is None}
    finally:
        writer.close()
    assert shortcuts == len(_odd_captures()) - 1       # all but the one with 70 KB of HTTP headers
    # heads read by warcio and cdxj-indexer, not archiver/replay/heads.py: the odd ones only
    assert long_way == {"a b?c d", "0", "1", "2", "7", "8", "9", "10"}

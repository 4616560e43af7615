"""The gzip engine of WARC records (ISA-L or zlib), and the shortcuts of the capture path
that bench/capture.py measured: one evidence-log append per capture, and a replay index
that reads back only the records it indexes. Real captures from the loopback site."""
from __future__ import annotations

import gzip
import io
import random
import zlib

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import ConfigError
from archiver.ledger.keys import load_or_create_key
from archiver.ledger.log import check_log, sign_current_head
from archiver.ledger.models import LedgerEntry
from archiver.replay.index import capture_lines, cdxj_lines, headers_only
from archiver.warc import record_bytes, verify_warc_file
from archiver.warc.compression import compressobj_factory
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

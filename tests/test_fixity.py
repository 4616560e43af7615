"""Fixity audits over a corpus of damaged WARCs: every kind of damage is found, a clean
archive raises no alarm, and missing and untracked files are reported."""
from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archiver.capture import run_capture
from archiver.db import migrate
from archiver.fixity import CHANGED, MISSING, OK, UNTRACKED, run_audit
from archiver.ledger.log import check_log
from archiver.ledger.models import LedgerEntry
from archiver.submissions import Submitter, submit_captures
from archiver.warc.members import iter_members
from workers.context import build_context


@pytest.fixture
def archive(settings, fixture_site):
    """Five captures in one sealed WARC file in storage."""
    migrate(settings.database_url)
    ctx = build_context(settings)
    urls = [fixture_site.url(p) for p in ("/article", "/plain.txt", "/redirect/1", "/404", "/image.png")]
    for url in urls:
        [row] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "tester"), lambda _id: None)
        run_capture(ctx, row.id, task_id="fixity-test")
    sealed = ctx.writer.close()
    path = settings.warc_dir / sealed.key
    yield ctx, path
    ctx.writer.close()


def members(data: bytes) -> list[tuple[int, int]]:
    return [(m.offset, m.length) for m in iter_members(io.BytesIO(data)) if m.status == "ok"]


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x10]) + data[at + 1:]


def response_member(data: bytes) -> tuple[int, int]:
    for offset, length in members(data):
        record = next(iter(ArchiveIterator(io.BytesIO(data[offset:offset + length]))))
        if record.rec_type == "response" and record.length > 300:
            return offset, length
    raise AssertionError("no response record")


def flip_in_header(data: bytes) -> bytes:
    offset, _ = members(data)[2]
    return flip(data, offset + 4)                 # the gzip header's time field: content unchanged


def flip_in_payload(data: bytes) -> bytes:
    offset, length = response_member(data)
    return flip(data, offset + length - 40)       # compressed body: a CRC or digest failure


def cut_at_boundary(data: bytes) -> bytes:
    offset, _ = members(data)[-2]
    return data[:offset]


def cut_between_boundaries(data: bytes) -> bytes:
    offset, length = members(data)[-3]
    return data[:offset + length // 2]


def append_garbage(data: bytes) -> bytes:
    return data + b"\x00garbage after the last record\n" * 10


def append_a_record(data: bytes) -> bytes:
    offset, length = members(data)[1]
    return data + data[offset:offset + length]


def reorder(data: bytes) -> bytes:
    (a, la), (b, lb) = members(data)[1], members(data)[2]
    return data[:a] + data[b:b + lb] + data[a:a + la] + data[b + lb:]


def alter_payload_with_new_digests(data: bytes) -> bytes:
    """The hardest case: a record rewritten with a changed body and digests recomputed, so
    the file itself is perfectly valid."""
    offset, length = response_member(data)
    old = next(iter(ArchiveIterator(io.BytesIO(data[offset:offset + length]))))
    body = old.content_stream().read().replace(b"e", b"E", 1)
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    headers = [(k, v) for k, v in old.http_headers.headers if k.lower() not in ("content-length",
                                                                              "transfer-encoding",
                                                                              "content-encoding")]
    from warcio.statusandheaders import StatusAndHeaders
    http = StatusAndHeaders(old.http_headers.statusline, headers + [("Content-Length", str(len(body)))],
                            protocol=old.http_headers.protocol)
    new = writer.create_warc_record(old.rec_headers.get_header("WARC-Target-URI"), "response",
                                    payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict={"WARC-Record-ID": old.rec_headers.get_header("WARC-Record-ID"),
                                                       "WARC-Date": old.rec_headers.get_header("WARC-Date")})
    writer.write_record(new)
    new.raw_stream.close()        # warcio spools the block to compute its digests
    return data[:offset] + out.getvalue() + data[offset + length:]


DAMAGE = [flip_in_header, flip_in_payload, cut_at_boundary, cut_between_boundaries, append_garbage,
          append_a_record, reorder, alter_payload_with_new_digests]


def test_a_clean_archive_raises_no_alarm(archive):
    ctx, path = archive
    report = run_audit(ctx.sessions, ctx.writer.storage, ctx.settings)
    assert report.ok and [f.status for f in report.files] == [OK], report.files
    with ctx.sessions() as session:
        events = [e.event for e in session.query(LedgerEntry).order_by(LedgerEntry.position)]
    assert events[-2:] == ["fixity_checked", "audit_finished"]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__ for d in DAMAGE])
def test_damage_is_found(archive, damage):
    ctx, path = archive
    clean = path.read_bytes()
    damaged = damage(clean)
    assert damaged != clean
    path.write_bytes(damaged)
    report = run_audit(ctx.sessions, ctx.writer.storage, ctx.settings)
    [result] = report.files
    assert result.status == CHANGED and result.problems, damage.__name__
    assert any("sha256" in p for p in result.problems)
    assert not report.ok


def test_warcio_check_misses_what_the_audit_finds(archive):
    """Why the audit reads the stream itself: warcio passes a file cut inside a member."""
    ctx, path = archive
    clean = path.read_bytes()
    path.write_bytes(clean[:-200])
    check = subprocess.run([Path(sys.executable).with_name("warcio"), "check", str(path)],
                           capture_output=True, text=True)
    report = run_audit(ctx.sessions, ctx.writer.storage, ctx.settings)
    assert report.files[0].status == CHANGED
    assert any("truncated" in p for p in report.files[0].problems)
    assert check.returncode == 0, "warcio check now fails a cut file: NOTES.md and docs can say so"


def test_missing_and_untracked_files_are_reported(archive):
    ctx, path = archive
    stray = path.with_name("stray-00001.warc.gz")
    stray.write_bytes(gzip.compress(b"WARC/1.1\r\n\r\n"))
    path.unlink()
    report = run_audit(ctx.sessions, ctx.writer.storage, ctx.settings)
    assert sorted(f.status for f in report.files) == [MISSING, UNTRACKED]
    assert {f.key for f in report.files if f.status == UNTRACKED} == {"stray-00001.warc.gz"}
    with ctx.sessions() as session:
        last = session.query(LedgerEntry).order_by(LedgerEntry.position.desc()).first()
        assert last.event == "audit_finished" and last.details["result"] == "fail"
        assert last.details["missing"] == 1 and last.details["untracked"] == 1
        from archiver.ledger.keys import load_or_create_key
        assert check_log(session, load_or_create_key(ctx.settings.data_dir).public_key()).ok

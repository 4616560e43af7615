"""The capture pipeline as a plain function, without a broker: fetch from the fixture site,
write the WARC, fill the catalogue; and every failure ends in a clear state."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import socket

import pytest
import requests
from warcio.archiveiterator import ArchiveIterator

from archiver.capture import TransientCaptureError, run_capture
from archiver.db import migrate
from archiver.fetch import fetch
from archiver.models import Capture
from archiver.submissions import Submitter, submit_captures
from tests.conftest import make_settings
from workers.context import build_context


def submit(ctx, url: str) -> int:
    [capture] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "tester"), lambda _id: None)
    return capture.id


def capture_row(ctx, capture_id: int) -> Capture:
    with ctx.sessions() as session:
        row = session.get(Capture, capture_id)
        _ = row.records, row.warc_file
        for r in row.records:
            _ = r.warc_file
        return row


def capture(ctx, url: str) -> Capture:
    capture_id = submit(ctx, url)
    run_capture(ctx, capture_id, task_id="test")
    return capture_row(ctx, capture_id)


def warc_records(ctx, row: Capture):
    """Read the capture's records back from its WARC file by offset, digests checked."""
    path = ctx.settings.open_warc_dir / f"{row.warc_file.filename}.open"
    records = []
    with open(path, "rb") as handle:
        for loc in row.records:
            handle.seek(loc.offset)
            chunk = handle.read(loc.length)
            found = []
            for record in ArchiveIterator(io.BytesIO(chunk), check_digests="raise"):
                # raw_stream: the payload exactly as stored (no de-chunking or decompression)
                found.append((record, record.raw_stream.read()))
            assert len(found) == 1, f"{loc.record_type} at {loc.offset}+{loc.length} holds {len(found)} records"
            records.extend(found)
    return records


def test_article_is_stored_with_provenance_and_text(ctx, fixture_site):
    url = fixture_site.url("/article")
    row = capture(ctx, url)
    assert row.state == "stored", row.error
    body = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10).content
    assert row.http_status == 200 and row.final_url == url
    assert row.payload_sha256 == hashlib.sha256(body).hexdigest()
    assert row.payload_size == len(body)
    assert row.server_ip == "127.0.0.1" and row.server_port == fixture_site.port
    assert row.title and "Fixture headline" in row.title
    assert row.text and row.text_sha256
    assert row.software["name"] == "archiver"
    records = warc_records(ctx, row)
    # the page, then its requisites (its stylesheet and its image, tests/test_requisites.py),
    # then the provenance, the text and the text's metadata
    assert [r.rec_type for r, _ in records] == ["response", "request"] * 3 + [
        "metadata", "conversion", "metadata"]
    assert [r.rec_headers["WARC-Target-URI"] for r, _ in records[2:6:2]] == [
        fixture_site.url("/static/site.css"), fixture_site.url("/image.png")]
    assert [r.requisite for r in row.records] == [False] * 2 + [True] * 4 + [False] * 3
    records = records[:2] + records[6:]
    (response_rec, payload), (request_rec, request_bytes) = records[0], records[1]
    request_line = f"{request_rec.http_headers.protocol} {request_rec.http_headers.statusline}"
    assert request_line == "GET /article HTTP/1.1" and request_bytes == b""
    assert "archiver/" in request_rec.http_headers.get_header("User-Agent")
    assert request_rec.rec_headers["WARC-Concurrent-To"] == response_rec.rec_headers["WARC-Record-ID"]
    assert response_rec.rec_headers["WARC-Target-URI"] == url
    assert payload == body
    provenance = json.loads(records[2][1])
    assert provenance["capture_id"] == row.id and provenance["response"]["status"] == 200
    conversion, text = records[3]
    assert conversion.rec_headers["WARC-Refers-To"] == response_rec.rec_headers["WARC-Record-ID"]
    assert hashlib.sha256(text).hexdigest() == row.text_sha256


def test_a_finished_capture_is_not_run_again(ctx, fixture_site):
    capture_id = submit(ctx, fixture_site.url("/article"))
    first = run_capture(ctx, capture_id)
    hits = len(fixture_site.requests)
    again = run_capture(ctx, capture_id)   # a redelivered task
    assert first.ran and not again.ran and again.state == "stored"
    assert len(fixture_site.requests) == hits
    assert capture_row(ctx, capture_id).attempts == 1


@pytest.mark.parametrize("path,status", [("/404", 404), ("/500", 500)])
def test_error_statuses_are_archived(ctx, fixture_site, path, status):
    row = capture(ctx, fixture_site.url(path))
    assert row.state == "stored" and row.http_status == status
    assert [r.record_type for r in row.records][:2] == ["response", "request"]


def test_redirect_chain_is_archived_hop_by_hop(ctx, fixture_site):
    row = capture(ctx, fixture_site.url("/redirect/3"))
    assert row.state == "stored"
    assert row.final_url == fixture_site.url("/article")
    assert [hop["status"] for hop in row.redirect_chain][-1] == 200
    assert len(row.redirect_chain) == 4
    assert all(hop["status"] in (301, 302, 303, 307, 308) for hop in row.redirect_chain[:3])
    responses = [r for r in row.records if r.record_type == "response" and not r.requisite]
    assert [r.target_uri for r in responses] == [hop["url"] for hop in row.redirect_chain]


def test_redirect_loop_fails_clearly(ctx, fixture_site):
    row = capture(ctx, fixture_site.url("/loop/a"))
    assert row.state == "failed" and row.error_code == "redirect_loop"
    assert "loop" in row.error.lower()


def test_dns_failure_fails_clearly(make_ctx):
    def no_such_host(host, port, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    ctx = make_ctx()
    ctx.fetcher = functools.partial(fetch, resolver=no_such_host)
    row = capture(ctx, "http://no-such-host.example/")
    assert row.state == "failed" and row.error_code == "dns"
    assert "no-such-host.example" in row.error
    assert row.records == []


def test_connection_refused_is_retried_then_fails(data_dir, fixture_site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings = make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=f"127.0.0.1:{closed_port}",
                             ARCHIVER_MAX_ATTEMPTS=2)
    migrate(settings.database_url)
    ctx = build_context(settings)
    capture_id = submit(ctx, f"http://127.0.0.1:{closed_port}/")
    with pytest.raises(TransientCaptureError):
        run_capture(ctx, capture_id)
    assert capture_row(ctx, capture_id).state == "queued"   # put back for the retry
    run_capture(ctx, capture_id)
    row = capture_row(ctx, capture_id)
    assert row.state == "failed" and row.error_code == "connect" and row.attempts == 2
    assert str(closed_port) in row.error


def test_slow_headers_time_out(make_ctx, fixture_site):
    ctx = make_ctx(read_timeout=1.0, total_deadline=3.0, max_attempts=1)
    row = capture(ctx, fixture_site.url("/slow-headers"))
    assert row.state == "failed" and row.error_code == "timeout"


def test_trickling_body_ends_on_the_deadline(make_ctx, fixture_site):
    ctx = make_ctx(total_deadline=3.0)
    row = capture(ctx, fixture_site.url("/slow"))
    assert row.state == "stored" and row.truncated == "time"
    response = [r for r, _ in warc_records(ctx, row) if r.rec_type == "response"][0]
    assert response.rec_headers["WARC-Truncated"] == "time"


def test_body_over_the_cap_is_truncated(make_ctx, fixture_site):
    ctx = make_ctx(max_body_bytes=1024 * 1024)
    row = capture(ctx, fixture_site.url("/big?mb=3"))
    assert row.state == "stored" and row.truncated == "length"
    assert row.payload_size <= 1024 * 1024 + 65536
    response = [r for r, _ in warc_records(ctx, row) if r.rec_type == "response"][0]
    assert response.rec_headers["WARC-Truncated"] == "length"


def test_pdf_is_stored_byte_for_byte_with_its_text(ctx, fixture_site):
    url = fixture_site.url("/doc.pdf")
    row = capture(ctx, url)
    assert row.state == "stored" and row.content_type.startswith("application/pdf")
    payload = [body for r, body in warc_records(ctx, row) if r.rec_type == "response"][0]
    assert payload == requests.get(url, timeout=10).content and payload.startswith(b"%PDF")
    assert "Fixture PDF text" in (row.text or "")


def test_png_is_stored_without_text(ctx, fixture_site):
    url = fixture_site.url("/image.png")
    row = capture(ctx, url)
    assert row.state == "stored" and row.text is None and row.text_reason
    payload = [body for r, body in warc_records(ctx, row) if r.rec_type == "response"][0]
    assert payload == requests.get(url, timeout=10).content
    assert payload.startswith(b"\x89PNG")
    assert [r.record_type for r in row.records] == ["response", "request", "metadata"]


def test_windows_1256_page_keeps_bytes_and_reads_as_arabic(ctx, fixture_site):
    url = fixture_site.url("/arabic")
    row = capture(ctx, url)
    assert row.state == "stored"
    payload = [body for r, body in warc_records(ctx, row) if r.rec_type == "response"][0]
    assert payload == requests.get(url, timeout=10).content      # the original bytes
    assert "windows-1256" in row.content_type.lower()
    assert any("\u0600" <= ch <= "\u06ff" for ch in row.text)    # decoded to Arabic letters


def test_gzip_response_is_stored_encoded_and_read_decoded(ctx, fixture_site):
    url = fixture_site.url("/gzip")
    row = capture(ctx, url)
    assert row.state == "stored"
    assert dict((k.lower(), v) for k, v in row.http_headers)["content-encoding"] == "gzip"
    payload = [body for r, body in warc_records(ctx, row) if r.rec_type == "response"][0]
    assert payload[:2] == b"\x1f\x8b"                              # stored as received
    assert b"<html" in gzip.decompress(payload).lower()
    assert row.text and len(row.text) > 50

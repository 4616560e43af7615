"""`archiver import` and the admin upload form: WARCs made by real `wget --warc-file` against
the fixture site (and by warcio, standing in for pywb and Browsertrix), imported, then found by
search, replayed by pywb, verified against the log and audited; damaged files reported record
by record; re-imports that add nothing (docs/import.md)."""
from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from urllib3 import encode_multipart_formdata
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.accounts import service as accounts
from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.evidence.verify import verify_capture
from archiver.fixity import run_audit
from archiver.importer import ImportJob, import_warc
from archiver.importer.jobs import run_import_job
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture, CaptureRecord, WarcFile
from archiver.replay import capture_timestamp
from archiver.web import create_app
from storage import open_storage
from tests.conftest import make_settings, service_missing
from tests.fixture_site import build_png
from tests.replay_server import free_port, replay_server

WGET = Path("/usr/bin/wget")
ARCHIVER = Path(sys.executable).parent / "archiver"
PASSWORD = "correct horse battery staple"

# the pages wget mirrors, each with words found nowhere else in the fixture site
PAGES = {
    "/import/index.html": ("Cormorant observatory bulletin",
                           '<p>The cormorant observatory publishes its bulletin weekly.</p>'
                           '<p><a href="/import/a.html">Harbour</a> <a href="/import/b.html">Airships</a></p>'
                           '<img src="/import/photo.png" alt="photo">'),
    "/import/a.html": ("Quartzite harbour ledger",
                       '<p>The quartzite harbour ledger lists every vessel since 1841.</p>'
                       '<img src="/image.png" alt="lighthouse">'),
    "/import/b.html": ("Zeppelin timetable archive",
                       '<p>A zeppelin timetable archive survives in the municipal vaults.</p>'),
}
PHOTO = build_png(24)


def page_html(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"{body}<p>{' '.join([title.lower()] * 3)} is kept here for readers and researchers "
            "who want the long story.</p></article></body></html>")


@pytest.fixture(scope="module")
def site(fixture_site):
    for path, (title, body) in PAGES.items():
        fixture_site.set_page(path, page_html(title, body))
    fixture_site.set_page("/import/photo.png", PHOTO, content_type="image/png")
    return fixture_site


def run_wget(site, folder: Path, *extra: str) -> Path:
    """A real wget crawl of the import pages into a WARC; returns its path."""
    if not WGET.is_file():
        service_missing("wget", "not installed at /usr/bin/wget (apt-get install wget)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(WGET), "--no-verbose", "--recursive", "--level=2", "--page-requisites", "-e", "robots=off",
         "--tries=1", "--timeout=10", "--no-host-directories", "-P", str(folder / "mirror"),
         f"--warc-file={folder / 'site'}", *extra, site.url("/import/index.html")],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = [p for p in folder.iterdir() if p.name.startswith("site.warc")]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def wget_warc(site, tmp_path_factory) -> Path:
    return run_wget(site, tmp_path_factory.mktemp("wget"))


@dataclass
class Archive:
    settings: object
    sessions: object
    storage: object

    def run(self, path: Path, who: str = "cli:tester", **kwargs):
        return import_warc(self.settings, self.sessions, self.storage, path, imported_by=who, **kwargs)

    def captures(self) -> list[Capture]:
        with self.sessions() as session:
            rows = list(session.scalars(select(Capture).order_by(Capture.id)))
            session.expunge_all()
            return rows

    def count(self, model) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(model))


def make_archive(data_dir: Path, site, **env) -> Archive:
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=site.allow, ARCHIVER_REPLAY_PORT=free_port(), **env)
    migrate(settings.database_url)
    return Archive(settings, make_session_factory(make_engine(settings.database_url)),
                   open_storage(settings.storage_url))


@pytest.fixture
def archive(data_dir, site) -> Archive:
    made = make_archive(data_dir, site)
    yield made
    made.sessions.kw["bind"].dispose()


def responses_of(path: Path) -> dict[str, dict]:
    """What warcio reads in a WARC: per response URI, its record id, date, body and place."""
    found = {}
    with open(path, "rb") as handle:
        records = ArchiveIterator(handle)
        for record in records:
            if record.rec_type == "response":
                body = record.content_stream().read()
                found[record.rec_headers.get_header("WARC-Target-URI").strip("<>")] = {
                    "id": record.rec_headers.get_header("WARC-Record-ID"),
                    "date": record.rec_headers.get_header("WARC-Date"), "body": body,
                    "offset": records.get_record_offset(), "length": records.get_record_length()}
    return found


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
    env.update(ARCHIVER_DATA_DIR=str(data_dir), ARCHIVER_ANONYMOUS_ROLE="archivist")
    return subprocess.run([str(ARCHIVER), *args], capture_output=True, text=True, env=env, timeout=300)


# --- wget, imported, searched, replayed, verified --------------------------------------

def test_wget_warc_imports_and_is_searched_replayed_and_verified(archive, wget_warc, site):
    originals = responses_of(wget_warc)
    assert set(originals) == {site.url(p) for p in (*PAGES, "/import/photo.png", "/image.png")}

    report = archive.run(wget_warc)
    assert report.ok, report.problems
    captures = {c.requested_url: c for c in archive.captures()}
    assert set(captures) == set(originals)
    for url, original in originals.items():
        capture = captures[url]
        assert capture.state == "stored" and capture.source == "import"
        assert capture.submitted_by == "cli:tester"
        assert capture.http_status == 200
        # the capture time is the source's WARC-Date, not the time of the import
        assert capture.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ") == original["date"]
        assert capture.imported["record_id"] == original["id"]
    index = captures[site.url("/import/index.html")]
    assert index.title == "Cormorant observatory bulletin"
    assert "cormorant observatory publishes its bulletin" in index.text

    # kept as it came: the stored file is the source byte for byte
    with archive.sessions() as session:
        warc = session.scalars(select(WarcFile)).one()
    assert warc.sha256 == report.source_sha256 and warc.size == wget_warc.stat().st_size
    assert archive.storage.read_range(warc.storage_key, 0, warc.size) == wget_warc.read_bytes()

    # every capture verifies against the catalogue and the log; the file passes a fixity audit
    for capture in captures.values():
        checks = verify_capture(archive.sessions, archive.settings, archive.storage, capture.id)
        assert checks.ok, [c for c in checks.checks if not c.ok]
    audit = run_audit(archive.sessions, archive.storage, archive.settings)
    assert audit.ok, [(f.key, f.problems) for f in audit.files]
    with archive.sessions() as session:
        events = [e.event for e in session.scalars(select(LedgerEntry).where(
            LedgerEntry.capture_id == index.id).order_by(LedgerEntry.position))]
    assert events == ["imported", "text_extracted", "stored"]

    # search finds each page by its own words
    client = create_app(archive.settings).test_client()
    for path, (title, _body) in PAGES.items():
        word = title.split()[1].lower()
        hits = client.get(f"/api/v1/search?q={word}").get_json()["hits"]
        assert [h["url"] for h in hits] == [site.url(path)], (word, hits)

    # pywb replays what was imported: the archived bytes, and the page with its image
    with replay_server(archive.settings) as base:
        for url, original in originals.items():
            stamp = capture_timestamp(captures[url])
            raw = requests.get(f"{base}/web/{stamp}id_/{url}", timeout=30)
            assert raw.status_code == 200, url
            assert raw.content == original["body"]
        page = requests.get(f"{base}/web/{capture_timestamp(index)}/{index.requested_url}", timeout=30)
        assert page.status_code == 200 and "cormorant observatory" in page.text
        assert re.search(r'src="[^"]*/web/\d{14}[a-z_]*/[^"]*/import/photo.png"', page.text), page.text


def test_reimport_adds_nothing(archive, wget_warc, site):
    first = archive.run(wget_warc)
    assert len(first.capture_ids) == 5
    counts = (archive.count(Capture), archive.count(CaptureRecord), archive.count(WarcFile),
              archive.count(LedgerEntry))
    again = archive.run(wget_warc)
    assert again.capture_ids == [] and again.duplicates == 5 and again.warc_file is None
    assert "already imported" in again.message
    assert (archive.count(Capture), archive.count(CaptureRecord), archive.count(WarcFile),
            archive.count(LedgerEntry)) == counts
    # the same from the shell, under another name: still nothing new, and it says so
    copy = archive.settings.data_dir.parent / "renamed.warc.gz"
    shutil.copy(wget_warc, copy)
    done = cli(archive.settings.data_dir, "import", str(copy))
    assert done.returncode == 0, done.stderr
    assert "already imported: all 5 responses" in done.stdout
    assert archive.count(Capture) == counts[0]


def test_import_on_sqlite_and_postgresql(database_url, data_dir, site, wget_warc):
    archive = make_archive(data_dir, site, DATABASE_URL=database_url)
    try:
        report = archive.run(wget_warc)
        assert report.ok and len(report.capture_ids) == 5
        again = archive.run(wget_warc)
        assert again.capture_ids == [] and again.duplicates == 5
        assert archive.count(Capture) == 5 and archive.count(WarcFile) == 1
        with archive.sessions() as session:
            job = session.get(ImportJob, report.import_id)
            assert job.state == "done" and job.progress["phase"] == "cataloguing" and job.captures == 5
        app = create_app(archive.settings)
        hits = app.test_client().get("/api/v1/search?q=quartzite").get_json()["hits"]
        app.extensions["archiver"].sessions.kw["bind"].dispose()
        assert [h["url"] for h in hits] == [site.url("/import/a.html")]
        for capture_id in report.capture_ids:
            assert verify_capture(archive.sessions, archive.settings, archive.storage, capture_id).ok
    finally:
        archive.sessions.kw["bind"].dispose()


def test_uncompressed_wget_warc_imports(archive, site, tmp_path):
    source = run_wget(site, tmp_path / "plain", "--no-warc-compression")
    assert source.name == "site.warc"
    report = archive.run(source)
    assert report.ok and len(report.capture_ids) == 5, report.problems
    # each record is now its own gzip member (byte-range replay needs that); its bytes inside are the source's
    with archive.sessions() as session:
        warc = session.scalars(select(WarcFile)).one()
        records = session.scalars(select(CaptureRecord).where(CaptureRecord.record_type == "response")).all()
    plain = source.read_bytes()
    for rec in records:
        inflated = zlib.decompress(archive.storage.read_range(warc.storage_key, rec.offset, rec.length),
                                   zlib.MAX_WBITS | 16)
        assert inflated in plain and inflated.startswith(b"WARC/1.0\r\n")
    assert run_audit(archive.sessions, archive.storage, archive.settings).ok


def test_whole_file_gzip_and_a_broken_record_in_an_uncompressed_warc(archive, site, tmp_path):
    plain = run_wget(site, tmp_path / "plain", "--no-warc-compression").read_bytes()
    # `gzip site.warc`: one member holding every record
    whole = tmp_path / "whole.warc.gz"
    whole.write_bytes(gzip.compress(plain))
    report = archive.run(whole)
    assert report.ok and len(report.capture_ids) == 5, report.problems
    assert run_audit(archive.sessions, archive.storage, archive.settings).ok

    # a broken version line in the middle of an uncompressed file: that record alone is lost
    second = make_archive(tmp_path / "second", site)
    target = site.url("/import/b.html").encode()
    starts = [plain.rfind(b"WARC/1.0\r\n", 0, m.start())
              for m in re.finditer(re.escape(b"WARC-Target-URI: <" + target + b">"), plain)]
    [start] = [at for at in starts if plain[at:plain.find(b"\r\n\r\n", at)].find(b"WARC-Type: response") > 0]
    damaged = tmp_path / "damaged.warc"
    damaged.write_bytes(plain[:start] + b"WARX" + plain[start + 4:])
    report = second.run(damaged)
    assert len(report.problems) == 1 and report.problems[0].startswith(f"offset {start},")
    assert "not a WARC record" in report.problems[0]
    assert sorted(c.requested_url for c in second.captures()) == sorted(
        site.url(p) for p in ("/import/index.html", "/import/a.html", "/import/photo.png", "/image.png"))
    second.sessions.kw["bind"].dispose()


# --- damaged files -------------------------------------------------------------------

def members_of(path: Path) -> list[dict]:
    with open(path, "rb") as handle:
        records = ArchiveIterator(handle)
        return [{"type": r.rec_type, "uri": (r.rec_headers.get_header("WARC-Target-URI") or "").strip("<>"),
                 "offset": records.get_record_offset(), "length": records.get_record_length()}
                for r in records]


def damage(source: Path, target: Path, site) -> dict[str, int]:
    """A copy of a wget WARC with a.html's response bit-flipped, b.html's response with a
    broken Content-Length header (in a valid gzip member), and garbage appended; returns the
    offsets of the damage in the new file."""
    data = bytearray(source.read_bytes())
    members = members_of(source)
    response = {m["uri"]: m for m in members if m["type"] == "response"}
    a, b = response[site.url("/import/a.html")], response[site.url("/import/b.html")]
    data[a["offset"] + a["length"] // 2] ^= 0x10
    inflated = zlib.decompress(bytes(data[b["offset"]:b["offset"] + b["length"]]), zlib.MAX_WBITS | 16)
    broken = re.sub(rb"Content-Length: \d+", b"Content-Length: twelve", inflated, count=1)
    repacked = gzip.compress(broken)
    data[b["offset"]:b["offset"] + b["length"]] = repacked
    garbage_at = len(data)
    data += b"this is not part of any WARC record\n" * 40
    target.write_bytes(bytes(data))
    shift = len(repacked) - b["length"]
    offsets = {"a": a["offset"], "b": b["offset"], "garbage": garbage_at}
    if a["offset"] > b["offset"]:
        offsets["a"] += shift
    return offsets


def test_damaged_file_is_reported_record_by_record_and_the_rest_comes_in(data_dir, site, wget_warc, tmp_path):
    archive = make_archive(data_dir, site)
    # something stored before the damaged import, which must stay exactly as it was
    earlier = archive.run(warcio_warc(tmp_path / "earlier.warc.gz", site))
    assert earlier.ok
    with archive.sessions() as session:
        before = [(w.filename, w.sha256, w.size) for w in session.scalars(select(WarcFile))]
    before_captures = [(c.id, c.payload_sha256, c.text_sha256) for c in archive.captures()]

    damaged = tmp_path / "damaged.warc.gz"
    where = damage(wget_warc, damaged, site)
    done = cli(data_dir, "import", str(damaged))
    assert done.returncode == 1, (done.stdout, done.stderr)
    skipped = [line for line in done.stderr.splitlines() if line.strip().startswith("skipped:")]
    assert len(skipped) == 3, done.stderr
    assert f"offset {where['a']}," in skipped[0] or f"offset {where['a']}," in skipped[1]
    line_b = next(line for line in skipped if f"offset {where['b']}," in line)
    assert "Content-Length 'twelve' is not a byte count" in line_b
    assert f"offset {where['garbage']}," in skipped[2] and "not a gzip member" in skipped[2]
    assert "3 captures imported" in done.stdout and "3 damaged parts skipped" in done.stdout
    assert "reading" in done.stderr          # the progress, on stderr

    urls = {c.requested_url for c in archive.captures()}
    assert site.url("/import/index.html") in urls and site.url("/import/photo.png") in urls
    assert site.url("/import/a.html") not in urls and site.url("/import/b.html") not in urls
    with archive.sessions() as session:
        job = session.scalars(select(ImportJob).order_by(ImportJob.id.desc())).first()
        assert job.skipped == 3 and len(job.problems) == 3 and job.captures == 3
        after = {w.filename: (w.filename, w.sha256, w.size) for w in session.scalars(select(WarcFile))}
    assert all(after[name] == row for name, *_ in before for row in before if row[0] == name)
    assert [(c.id, c.payload_sha256, c.text_sha256) for c in archive.captures()][:len(before_captures)] \
        == before_captures
    # the kept file holds only good records: it passes the audit, earlier files too
    audit = run_audit(archive.sessions, archive.storage, archive.settings)
    assert audit.ok and len(audit.files) == 2, [(f.key, f.problems) for f in audit.files]
    archive.sessions.kw["bind"].dispose()


def test_truncated_file_keeps_what_came_before_the_cut(archive, wget_warc, site, tmp_path):
    members = members_of(wget_warc)
    cut_in = next(m for m in members if m["type"] == "response" and m["uri"].endswith("/import/b.html"))
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(wget_warc.read_bytes()[:cut_in["offset"] + cut_in["length"] // 2])
    report = archive.run(truncated)
    assert not report.ok
    assert report.problems == [f"offset {cut_in['offset']}, {cut_in['length'] // 2} bytes: truncated: "
                               "the file ends inside this gzip member"]
    before = [m["uri"] for m in members[:members.index(cut_in)] if m["type"] == "response"]
    assert sorted(c.requested_url for c in archive.captures()) == sorted(before)


def test_not_a_warc_and_a_missing_file_are_reported_and_the_others_imported(data_dir, site, wget_warc, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a WARC\n")
    done = cli(data_dir, "import", str(tmp_path / "missing.warc.gz"), str(text), str(wget_warc), "--quiet")
    assert done.returncode == 1
    assert "missing.warc.gz: no such file" in done.stderr
    assert "not a WARC file: it starts with b'these are my not'" in done.stderr
    assert "5 captures imported" in done.stdout
    assert done.stderr.count("reading") == 0      # --quiet: no progress


# --- other tools' WARCs --------------------------------------------------------------

def warcio_warc(path: Path, site) -> Path:
    """A WARC written by warcio's WARCWriter, as pywb's recorder and Browsertrix write them:
    warcinfo, request and response records, and a resource record."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
        info = writer.create_warcinfo_record(path.name, {"software": "Browsertrix-Crawler 1.2.3 (stand-in)",
                                                          "format": "WARC File Format 1.1",
                                                          "isPartOf": "harbour-collection"})
        writer.write_record(info)
        url = site.url("/import/from-warcio")
        body = page_html("Lamplighter guild minutes", "<p>The lamplighter guild met at dusk.</p>").encode()
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                           ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        response = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
        response.rec_headers.add_header("WARC-Warcinfo-ID", info.rec_headers.get_header("WARC-Record-ID"))
        request = writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=StatusAndHeaders(
            "GET /import/from-warcio HTTP/1.1", [("Host", site.netloc)], is_http_request=True))
        request.rec_headers.add_header("WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID"))
        writer.write_record(request)
        writer.write_record(response)
        note = writer.create_warc_record(site.url("/import/notes.txt"), "resource",
                                         payload=io.BytesIO(b"Field notes on the tidal lagoon."),
                                         warc_content_type="text/plain")
        writer.write_record(note)
        # Heritrix records the DNS answer as a response of a dns: URI: kept, not a capture
        dns = writer.create_warc_record(f"dns:{site.host}", "response",
                                        payload=io.BytesIO(b"20260101000000\n127.0.0.1\n"),
                                        warc_content_type="text/dns")
        writer.write_record(dns)
        for record in (info, request, response, note, dns):
            record.raw_stream.close()          # warcio spools each payload to a temporary file
    return path


def test_warcio_written_warc_imports_with_its_warcinfo(archive, site, tmp_path):
    source = warcio_warc(tmp_path / "browsertrix.warc.gz", site)
    report = archive.run(source, who="alice@example.org")
    assert report.ok and len(report.capture_ids) == 2
    captures = {c.requested_url: c for c in archive.captures()}
    page = captures[site.url("/import/from-warcio")]
    assert page.title == "Lamplighter guild minutes" and page.http_status == 200
    assert [r.record_type for r in _records(archive, page.id)] == ["request", "response"]
    note = captures[site.url("/import/notes.txt")]
    assert note.http_status is None and "tidal lagoon" in (note.text or "")
    warcinfo = page.imported["warcinfo"]
    assert warcinfo["fields"]["software"] == "Browsertrix-Crawler 1.2.3 (stand-in)"
    assert warcinfo["fields"]["isPartOf"] == "harbour-collection"
    for capture in captures.values():
        assert verify_capture(archive.sessions, archive.settings, archive.storage, capture.id).ok
    with archive.sessions() as session:
        warc = session.scalars(select(WarcFile)).one()
    assert warc.record_count == 5 and warc.sha256 == report.source_sha256     # the dns: record too


def test_an_api_token_uploads_without_the_form(archive, wget_warc):
    """curl -H "Authorization: Bearer $TOKEN" -F file=@crawl.warc.gz .../admin/imports"""
    app = web_app(archive)
    with transaction(archive.sessions) as db:
        _row, token = accounts.create_token(db, accounts.find_user(db, "admin@example.org"), "script")
        _row, weak = accounts.create_token(db, accounts.find_user(db, "archivist@example.org"), "script")
    client = app.test_client()
    body, content_type = encode_multipart_formdata({"file": ("crawl.warc.gz", wget_warc.read_bytes())})
    refused = client.post("/admin/imports", data=body, content_type=content_type,
                          headers={"Authorization": f"Bearer {weak}"})
    assert refused.status_code == 403
    sent = client.post("/admin/imports", data=body, content_type=content_type,
                       headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 303
    job_id = int(sent.headers["Location"].rsplit("/", 1)[1])
    assert run_import_job(archive.settings, archive.sessions, archive.storage, job_id) == "done"
    status = client.get(f"/admin/imports/{job_id}/status", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert status["captures"] == 5 and status["imported_by"].startswith("admin@example.org (token ")


def test_the_json_api_imports_and_reports_progress(archive, wget_warc):
    """curl -H "Authorization: Bearer $TOKEN" -F file=@crawl.warc.gz .../api/v1/imports"""
    client = web_app(archive).test_client()
    with transaction(archive.sessions) as db:
        _row, token = accounts.create_token(db, accounts.find_user(db, "admin@example.org"), "api")
        _row, weak = accounts.create_token(db, accounts.find_user(db, "archivist@example.org"), "api")
    admin, archivist = ({"Authorization": f"Bearer {t}"} for t in (token, weak))
    body, content_type = encode_multipart_formdata({"file": ("crawl.warc.gz", wget_warc.read_bytes()),
                                                    "note": "from the API"})
    assert client.post("/api/v1/imports", data=body, content_type=content_type,
                       headers=archivist).status_code == 403
    assert client.get("/api/v1/imports", headers=archivist).status_code == 403
    empty, empty_type = encode_multipart_formdata({"note": "no file"})
    missing = client.post("/api/v1/imports", data=empty, content_type=empty_type, headers=admin)
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "file"
    sent = client.post("/api/v1/imports", data=body, content_type=content_type, headers=admin)
    assert sent.status_code == 202, sent.get_json()
    queued = sent.get_json()
    assert queued["state"] == "queued" and sent.headers["Location"] == f"/api/v1/imports/{queued['id']}"
    assert run_import_job(archive.settings, archive.sessions, archive.storage, queued["id"]) == "done"
    done = client.get(sent.headers["Location"], headers=admin).get_json()
    assert done["state"] == "done" and done["percent"] == 100 and done["captures"] == 5
    assert done["source"]["filename"] == "crawl.warc.gz" and len(done["capture_ids"]) == 5
    listed = client.get("/api/v1/imports", headers=admin).get_json()["imports"]
    assert [job["id"] for job in listed] == [queued["id"]]
    assert client.get("/api/v1/imports/999", headers=admin).status_code == 404


def _records(archive: Archive, capture_id: int) -> list[CaptureRecord]:
    with archive.sessions() as session:
        return list(session.scalars(select(CaptureRecord).where(CaptureRecord.capture_id == capture_id)
                                    .order_by(CaptureRecord.offset)))


def old_tool_record(site) -> bytes:
    """A response record as an old tool might write it: WARC/1.0, no digests."""
    body = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n\r\nMinutes of the ferry board"
    return (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:5e0d3f5c-1111-4222-8333-944455556666>\r\n"
            f"WARC-Date: 2019-03-04T05:06:07Z\r\nWARC-Target-URI: {site.url('/import/old.txt')}\r\n"
            f"Content-Type: application/http;msgtype=response\r\nContent-Length: {len(body)}\r\n\r\n").encode() \
        + body + b"\r\n\r\n"


def test_a_record_id_twice_in_one_file_is_reported(archive, site, tmp_path):
    source = tmp_path / "twice.warc"
    record = old_tool_record(site)
    source.write_bytes(record + b"\r\n" + record)        # an extra CRLF between them is tolerated
    report = archive.run(source)
    assert len(report.capture_ids) == 1
    assert report.problems == [f"offset {len(record) + 2}, {len(record)} bytes (record <urn:uuid:5e0d3f5c-1111-"
                               "4222-8333-944455556666>): a second record with the same WARC-Record-ID"]


def test_a_record_without_block_digest_gets_one_and_passes_the_audit(archive, site, tmp_path):
    source = tmp_path / "old-tool.warc"
    source.write_bytes(old_tool_record(site))
    report = archive.run(source)
    assert report.ok and len(report.capture_ids) == 1
    [capture] = archive.captures()
    assert capture.fetched_at.isoformat() == "2019-03-04T05:06:07+00:00"
    assert capture.imported["added_block_digest"] == ["<urn:uuid:5e0d3f5c-1111-4222-8333-944455556666>"]
    assert "ferry board" in capture.text
    assert run_audit(archive.sessions, archive.storage, archive.settings).ok
    assert verify_capture(archive.sessions, archive.settings, archive.storage, capture.id).ok


# --- provenance ----------------------------------------------------------------------

def test_provenance_shows_the_import_and_the_source_warcinfo(archive, wget_warc, site):
    report = archive.run(wget_warc, who="cli:archivist-on-duty")
    client = create_app(archive.settings).test_client()
    index = next(c for c in archive.captures() if c.requested_url.endswith("/import/index.html"))
    doc = client.get(f"/api/v1/captures/{index.id}/provenance").get_json()
    imported = doc["import"]
    assert doc["submission"]["source"] == "import"
    assert imported["source"] == {"filename": "site.warc.gz", "sha256": report.source_sha256,
                                  "size": wget_warc.stat().st_size}
    assert imported["imported_by"] == "cli:archivist-on-duty" and imported["via"] == "cli"
    assert imported["copied_verbatim"] is True
    assert imported["warcinfo"]["fields"]["software"].startswith("Wget/")
    assert "--warc-file=" in imported["warcinfo"]["fields"]["wget-arguments"]
    assert doc["timings"]["fetched_at"].startswith(imported["warc_date"][:19])
    page = client.get(f"/captures/{index.id}").get_data(as_text=True)
    assert "not fetched by this archive: imported from <strong>site.warc.gz</strong>" in page
    assert report.source_sha256 in page and "wget-arguments" in page


# --- the admin upload form -----------------------------------------------------------

def web_app(archive: Archive):
    app = create_app(archive.settings)
    with transaction(archive.sessions) as db:
        for role in ("admin", "archivist"):
            accounts.add_user(db, f"{role}@example.org", role, PASSWORD)
    return app


def log_in(client, email: str):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token}).status_code == 303


def csrf(client, path: str = "/admin/imports") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_admin_uploads_a_warc_and_follows_its_progress(archive, wget_warc, site):
    client = web_app(archive).test_client()
    log_in(client, "admin@example.org")
    form = client.get("/admin/imports").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form
    data = wget_warc.read_bytes()
    assert len(data) > 0
    answer = client.post("/admin/imports", content_type="multipart/form-data", data={
        "csrf_token": csrf(client), "note": "from the old crawler",
        "file": (io.BytesIO(data), "harbour-crawl.warc.gz")})
    assert answer.status_code == 303
    job_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    waiting = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert 'id="import-state">queued<' in waiting and 'http-equiv="refresh"' in waiting
    with archive.sessions() as session:
        key = session.get(ImportJob, job_id).upload_key
    assert archive.storage.read_range(key, 0, len(data)) == data   # the upload waits in storage

    # what the worker's task does with the job's id (workers/tasks.py import_warc)
    assert run_import_job(archive.settings, archive.sessions, archive.storage, job_id) == "done"
    assert run_import_job(archive.settings, archive.sessions, archive.storage, job_id) == "done"  # redelivered
    status = client.get(f"/admin/imports/{job_id}/status").get_json()
    assert status["state"] == "done" and status["captures"] == 5 and status["percent"] == 100
    assert status["imported_by"] == "admin@example.org" and status["source"]["filename"] == "harbour-crawl.warc.gz"
    assert not archive.storage.exists(key)
    finished = client.get(f"/admin/imports/{job_id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in finished and "5 captures imported" in finished
    capture = next(c for c in archive.captures() if c.requested_url.endswith("/import/index.html"))
    assert capture.imported["via"] == "web" and capture.imported["imported_by"] == "admin@example.org"
    assert capture.note == "from the old crawler"
    assert f'href="/captures/{capture.id}"' in finished


def test_uploads_larger_than_the_apps_body_limit_are_taken_from_admins_only(archive, site, tmp_path):
    from archiver.web import MAX_REQUEST_BYTES
    big = tmp_path / "big.warc.gz"
    with open(big, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        record = writer.create_warc_record(site.url("/import/scan.bin"), "resource",
                                           payload=io.BytesIO(os.urandom(MAX_REQUEST_BYTES + 500_000)),
                                           warc_content_type="application/octet-stream")
        writer.write_record(record)
        record.raw_stream.close()
    data = big.read_bytes()
    assert len(data) > MAX_REQUEST_BYTES
    def multipart(token: str) -> dict:
        # encoded here: werkzeug's test client spools a body this large to a temporary file
        # that it never closes
        body, content_type = encode_multipart_formdata({"csrf_token": token,
                                                        "file": ("big.warc.gz", data)})
        return {"data": body, "content_type": content_type}

    app = web_app(archive)
    archivist = app.test_client()
    log_in(archivist, "archivist@example.org")
    refused = archivist.post("/admin/imports", **multipart(csrf(archivist, "/")))
    assert refused.status_code == 403                      # refused by role, before the body is read
    # elsewhere the app's limit holds
    assert archivist.post("/captures", data={"csrf_token": "x", "urls": "a" * (MAX_REQUEST_BYTES + 10)}
                          ).status_code == 413
    admin = app.test_client()
    log_in(admin, "admin@example.org")
    taken = admin.post("/admin/imports", **multipart(csrf(admin)))
    assert taken.status_code == 303
    job_id = int(taken.headers["Location"].rsplit("/", 1)[1])
    assert run_import_job(archive.settings, archive.sessions, archive.storage, job_id) == "done"
    [capture] = archive.captures()
    assert capture.payload_size == MAX_REQUEST_BYTES + 500_000


def test_upload_needs_an_admin_and_the_csrf_token(archive, wget_warc):
    app = web_app(archive)
    anonymous = app.test_client()
    assert anonymous.get("/admin/imports").status_code == 303          # to the login page
    archivist = app.test_client()
    log_in(archivist, "archivist@example.org")
    assert archivist.get("/admin/imports").status_code == 403
    assert archivist.get("/admin/imports/1").status_code == 403
    refused = archivist.post("/admin/imports", content_type="multipart/form-data", data={
        "csrf_token": csrf(archivist, "/"), "file": (io.BytesIO(wget_warc.read_bytes()), "x.warc.gz")})
    assert refused.status_code == 403
    admin = app.test_client()
    log_in(admin, "admin@example.org")
    no_token = admin.post("/admin/imports", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(wget_warc.read_bytes()), "x.warc.gz")})
    assert no_token.status_code == 403
    no_file = admin.post("/admin/imports", data={"csrf_token": csrf(admin)})
    assert no_file.status_code == 400 and "choose a .warc.gz or .warc file" in no_file.get_data(as_text=True)
    assert archive.count(ImportJob) == 0


def test_an_upload_is_imported_by_a_real_worker(tmp_path, redis_url, site, wget_warc):
    """The whole path for real: gunicorn takes the upload, Redis carries the task to a celery
    worker on the maintenance queue, the progress page follows it to the end."""
    import time

    from tests.live_service import live_service
    with live_service(tmp_path / "live" / "data", redis_url, site) as svc:
        made = subprocess.run([str(ARCHIVER), "create-admin", "admin@example.org", "--password-stdin"],
                              input=PASSWORD + "\n", env=svc.env, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        browser = requests.Session()
        login = browser.get(f"{svc.base}/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        browser.post(f"{svc.base}/login", data={"email": "admin@example.org", "password": PASSWORD,
                                                "csrf_token": token}, timeout=10)
        form = browser.get(f"{svc.base}/admin/imports", timeout=10)
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        sent = browser.post(f"{svc.base}/admin/imports", data={"csrf_token": token},
                            files={"file": ("crawl.warc.gz", wget_warc.read_bytes())},
                            allow_redirects=False, timeout=30)
        assert sent.status_code == 303, sent.text
        status_url = svc.base + sent.headers["Location"] + "/status"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = browser.get(status_url, timeout=10).json()
            if status["state"] in ("done", "failed"):
                break
            time.sleep(0.3)
        assert status["state"] == "done", (status, svc.log("worker"))
        assert status["captures"] == 5 and status["problems"] == []
        hits = browser.get(f"{svc.base}/api/v1/search?q=zeppelin", timeout=10).json()["hits"]
        assert [h["url"] for h in hits] == [site.url("/import/b.html")]


def test_a_redelivered_import_runs_once_and_a_dead_workers_import_is_taken_again(archive, wget_warc, tmp_path):
    from datetime import datetime, timedelta, timezone

    from archiver.importer.jobs import IMPORT_TIME_LIMIT, queue_upload

    def upload() -> int:
        copy = tmp_path / "upload.warc.gz"
        shutil.copy(wget_warc, copy)
        queued = []
        job_id = queue_upload(archive.settings, archive.sessions, archive.storage, copy, "crawl.warc.gz",
                              "admin@example.org", None, enqueue=queued.append)
        assert queued == [job_id] and not copy.exists()
        return job_id

    def set_running(job_id: int, since: timedelta) -> None:
        with transaction(archive.sessions) as session:
            job = session.get(ImportJob, job_id)
            job.state, job.started_at = "running", datetime.now(timezone.utc) - since

    busy = upload()
    set_running(busy, timedelta(minutes=5))              # another worker is on it
    assert run_import_job(archive.settings, archive.sessions, archive.storage, busy) == "running"
    assert archive.count(Capture) == 0
    set_running(busy, timedelta(seconds=IMPORT_TIME_LIMIT + 120))   # that worker died long ago
    assert run_import_job(archive.settings, archive.sessions, archive.storage, busy) == "done"
    assert archive.count(Capture) == 5


def test_an_unreachable_broker_fails_the_upload_with_a_message(archive, wget_warc, tmp_path):
    from archiver.importer.jobs import queue_upload

    def broker_down(_job_id):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    copy = tmp_path / "upload.warc.gz"
    shutil.copy(wget_warc, copy)
    job_id = queue_upload(archive.settings, archive.sessions, archive.storage, copy, "crawl.warc.gz",
                          "admin@example.org", None, enqueue=broker_down)
    with archive.sessions() as session:
        job = session.get(ImportJob, job_id)
        assert job.state == "failed" and "could not be queued" in job.message and "upload the file again" in job.message
        assert job.upload_key is None
    assert not list(archive.storage.keys("import-uploads/"))

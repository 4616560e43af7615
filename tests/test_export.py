"""WACZ downloads: captures from the fixture site, packaged through the API, checked with
py-wacz's validator, warcio (digests) and by hand (hashes, pages, index)."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from warcio.archiveiterator import ArchiveIterator

from archiver.capture import run_capture
from archiver.export import (MAX_SEARCH_CAPTURES, NothingToPackage, TooManyMatches, WaczWriter,
                             load_captures, matching_capture_ids)
from archiver.search import SearchQuery
from archiver.submissions import Submitter, submit_captures
from storage import open_storage
from tests.fixture_site import PLAIN_TEXT
from tests.pywb_replay import pywb_replay, require_pywb

WACZ_CLI = Path(sys.executable).with_name("wacz")
INDEX = "indexes/index.cdxj"


def capture(ctx, url: str) -> int:
    [row] = submit_captures(ctx.sessions, [url], "for the file", Submitter("cli", "tester"),
                            lambda _id: None)
    run_capture(ctx, row.id, task_id="test")
    return row.id


def download(client, path: str, tmp_path: Path) -> tuple[Path, object]:
    response = client.get(path)
    try:
        assert response.status_code == 200, response.data[:500]
        target = tmp_path / response.headers["Content-Disposition"].split("filename=")[1].strip('"')
        target.write_bytes(response.data)
    finally:
        response.close()
    return target, response


def wacz_validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(WACZ_CLI), "validate", "-f", str(path)], capture_output=True,
                          text=True, timeout=120)


def read_package(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def read_package_bytes(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def pages_of(files: dict[str, bytes]) -> tuple[dict, list[dict]]:
    header, *pages = [json.loads(line) for line in files["pages/pages.jsonl"].splitlines()]
    return header, pages


def check_package(path: Path) -> dict[str, bytes]:
    """Everything a WACZ must hold, checked without py-wacz; returns its files."""
    run = wacz_validate(path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Validation succeeded" in run.stdout
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("archive/"):
                assert info.compress_type == zipfile.ZIP_STORED, info.filename   # random access
    files = read_package(path)
    datapackage = json.loads(files["datapackage.json"])
    assert datapackage["profile"] == "data-package"         # see docs/export.md, Conformance
    listed = {r["path"]: r for r in datapackage["resources"]}
    assert set(listed) == set(files) - {"datapackage.json", "datapackage-digest.json"}
    for name, resource in listed.items():
        assert resource["hash"] == "sha256:" + hashlib.sha256(files[name]).hexdigest(), name
        assert resource["bytes"] == len(files[name]), name
    digest = json.loads(files["datapackage-digest.json"])
    assert digest == {"path": "datapackage.json",
                      "hash": "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()}
    return files


def warc_records(data: bytes) -> list:
    """Every record of a .warc.gz, digests checked, the gzip stream read to its end."""
    records = []
    for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
        record.content_stream().read()
        records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                        record.rec_headers.get_header("WARC-Record-ID")))
    gzip.decompress(data)   # raises if the last member is cut short
    return records


def test_capture_wacz_is_valid_and_holds_the_capture(client, ctx, fixture_site, tmp_path):
    capture_id = capture(ctx, fixture_site.url("/redirect/2"))
    ctx.writer.close()            # sealed: the records are read from storage by byte range
    detail = client.get(f"/api/v1/captures/{capture_id}").get_json()
    assert detail["state"] == "stored"
    assert detail["provenance"]["storage"]["warc_file"]["state"] == "sealed"

    response = client.get(f"/api/v1/captures/{capture_id}/wacz")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"attachment; filename=capture-{capture_id}.wacz"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert response.headers["Accept-Ranges"] == "bytes"
    path = tmp_path / f"capture-{capture_id}.wacz"
    path.write_bytes(response.data)
    response.close()
    files = check_package(path)

    # the WARC holds the capture's records, byte for byte as stored, in order
    warc = files[f"archive/capture-{capture_id}.warc.gz"]
    assert warc == client.get(f"/api/v1/captures/{capture_id}/warc").data
    records = warc_records(warc)
    stored = detail["provenance"]["storage"]["records"]
    assert [r[2] for r in records] == [r["record_id"] for r in stored]
    # two redirects and the page, then the page's stylesheet and image (its requisites)
    assert [r[0] for r in records].count("response") == 5
    assert [r["target_uri"] for r in stored if r["type"] == "response" and r["requisite"]] == [
        fixture_site.url("/static/site.css"), fixture_site.url("/image.png")]

    # provenance and text ride along
    provenance = json.loads(files[f"provenance/capture-{capture_id}.json"])
    assert provenance == client.get(f"/api/v1/captures/{capture_id}/provenance").get_json()
    assert files[f"text/capture-{capture_id}.txt"] == client.get(f"/api/v1/captures/{capture_id}/text").data

    # one page, the final URL at the final response's date
    header, pages = pages_of(files)
    assert header["format"] == "json-pages-1.0"
    [page] = pages
    final_response = [r for r in stored if r["type"] == "response" and not r["requisite"]][-1]
    assert page["url"] == detail["final_url"] == final_response["target_uri"] == fixture_site.url("/article")
    assert page["title"] == detail["title"] and page["text"]
    fetched_at = datetime.fromisoformat(detail["provenance"]["timings"]["fetched_at"])
    assert abs((datetime.fromisoformat(page["ts"]) - fetched_at).total_seconds()) < 60
    datapackage = json.loads(files["datapackage.json"])
    assert datapackage["home"] == {"url": page["url"], "ts": page["ts"]}
    assert datapackage["captures"] == [capture_id]

    # the index: response records only, pointing into the package's WARC
    lines = files["indexes/index.cdxj"].decode().splitlines()
    assert lines == sorted(lines) and len(lines) == 5
    for line in lines:
        key, ts, blob = line.split(" ", 2)
        entry = json.loads(blob)
        assert entry["filename"] == f"capture-{capture_id}.warc.gz"
        member = warc[int(entry["offset"]):int(entry["offset"]) + int(entry["length"])]
        [(rec_type, uri, _id)] = warc_records(member)
        assert rec_type == "response" and uri == entry["url"]
        assert not entry["url"].startswith("urn:")


def test_a_failed_capture_with_records_is_packaged_as_evidence(client, ctx, fixture_site, tmp_path):
    capture_id = capture(ctx, fixture_site.url("/loop/a"))       # a redirect loop: failed
    detail = client.get(f"/api/v1/captures/{capture_id}").get_json()
    assert detail["state"] == "failed" and detail["provenance"]["storage"]["records"]
    path, _ = download(client, f"/api/v1/captures/{capture_id}/wacz", tmp_path)
    files = check_package(path)
    records = warc_records(files[f"archive/capture-{capture_id}.warc.gz"])
    assert [r[2] for r in records] == [r["record_id"] for r in detail["provenance"]["storage"]["records"]]
    _, [page] = pages_of(files)
    assert page["url"] == [uri for kind, uri, _ in records if kind == "response"][-1]
    assert "text" not in page and not [name for name in files if name.startswith("text/")]


def test_the_package_replays_in_pywb_from_its_own_index(client, ctx, fixture_site, tmp_path):
    require_pywb()
    redirected = capture(ctx, fixture_site.url("/redirect/1"))
    plain = capture(ctx, fixture_site.url("/plain.txt"))
    path, _ = download(client, "/api/v1/search.wacz", tmp_path)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(path) as zf:
        zf.extractall(unpacked)
    pages = {p["id"]: p for p in pages_of(read_package(path))[1]}
    stamp = {key: "".join(ch for ch in page["ts"] if ch.isdigit())[:14] for key, page in pages.items()}
    with pywb_replay(unpacked / "archive") as replay:
        # serve from the package's index, not from the one the helper made
        collection = replay.root / "collections" / replay.collection
        (collection / "indexes" / "index.cdxj").write_bytes((unpacked / INDEX).read_bytes())
        page = pages[f"capture-{redirected}"]
        raw = requests.get(replay.raw_url(page["url"], stamp[f"capture-{redirected}"]), timeout=30)
        assert raw.status_code == 200 and raw.content == fixture_site.article
        hop = requests.get(replay.raw_url(fixture_site.url("/redirect/1"), stamp[f"capture-{redirected}"]),
                           timeout=30, allow_redirects=False)
        assert hop.status_code == 301 and hop.headers["Location"].endswith("/article")
        # the text page is itself, never our conversion record under the same URL
        page = pages[f"capture-{plain}"]
        raw = requests.get(replay.raw_url(page["url"], stamp[f"capture-{plain}"]), timeout=30)
        assert raw.status_code == 200 and raw.content == PLAIN_TEXT.encode("utf-8")


def test_range_requests_read_the_package_in_place(client, ctx, fixture_site):
    capture_id = capture(ctx, fixture_site.url("/article"))
    # each request makes a fresh package (its dates may differ), so only shapes are compared
    part = client.get(f"/api/v1/captures/{capture_id}/wacz", headers={"Range": "bytes=-22"})
    assert part.status_code == 206 and len(part.data) == 22
    assert part.data[:4] == b"PK\x05\x06"                      # ZIP end of central directory
    first, total = part.headers["Content-Range"].removeprefix("bytes ").split("/")
    assert first == f"{int(total) - 22}-{int(total) - 1}"
    part.close()
    head = client.get(f"/api/v1/captures/{capture_id}/wacz", headers={"Range": "bytes=0-3"})
    assert head.status_code == 206 and head.data == b"PK\x03\x04"   # first local file header
    head.close()
    beyond = client.get(f"/api/v1/captures/{capture_id}/wacz", headers={"Range": "bytes=99999999-"})
    assert beyond.status_code == 416


def test_search_wacz_holds_exactly_the_matching_captures(client, ctx, fixture_site, tmp_path):
    article = capture(ctx, fixture_site.url("/article"))
    pdf = capture(ctx, fixture_site.url("/doc.pdf"))
    plain = capture(ctx, fixture_site.url("/plain.txt"))
    failed = capture(ctx, "http://127.0.0.1:9/refused")     # not allowed: fails with no records
    assert client.get(f"/api/v1/captures/{failed}").get_json()["state"] == "failed"

    everything, _ = download(client, "/api/v1/search.wacz", tmp_path)
    _, pages = pages_of(check_package(everything))
    assert sorted(p["id"] for p in pages) == sorted(f"capture-{i}" for i in (article, pdf, plain))

    # the same parameters as /api/v1/search; page and per_page do not cut the package
    params = "type=text/html&per_page=1&page=1"
    hits = client.get(f"/api/v1/search?{params}").get_json()
    assert [h["id"] for h in hits["hits"]] == [article]
    path, _ = download(client, f"/api/v1/search.wacz?{params}", tmp_path)
    files = check_package(path)
    _, pages = pages_of(files)
    assert [p["id"] for p in pages] == [f"capture-{article}"]
    assert {n for n in files if n.startswith("archive/")} == {f"archive/capture-{article}.warc.gz"}
    assert json.loads(files["datapackage.json"])["captures"] == [article]

    words = client.get("/api/v1/search?q=lighthouse").get_json()
    path, _ = download(client, "/api/v1/search.wacz?q=lighthouse", tmp_path)
    files = check_package(path)
    assert json.loads(files["datapackage.json"])["captures"] == [h["id"] for h in words["hits"]]
    for name, data in files.items():
        if name.startswith("archive/"):
            assert warc_records(data)


def test_refusals(client, ctx, fixture_site):
    missing = client.get("/api/v1/captures/999/wacz")
    assert missing.status_code == 404 and "no capture with id 999" in missing.get_json()["error"]["detail"]

    failed = capture(ctx, "http://127.0.0.1:9/refused")
    refused = client.get(f"/api/v1/captures/{failed}/wacz")
    assert refused.status_code == 409
    detail = refused.get_json()["error"]["detail"]
    assert f"capture {failed} has no WARC records (state: failed)" in detail

    nothing = client.get("/api/v1/search.wacz?q=nosuchwordanywhere")
    assert nothing.status_code == 404 and "matches no captures" in nothing.get_json()["error"]["detail"]
    bad = client.get("/api/v1/search.wacz?per_page=0")
    assert bad.status_code == 400 and "per_page" in bad.get_json()["error"]["detail"]
    bad = client.get("/api/v1/search.wacz?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.get_json()["error"]["detail"]


class PinnedWriter(WaczWriter):
    def now(self):
        return datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_a_pinned_writer_makes_byte_identical_packages(ctx, fixture_site, tmp_path):
    ids = [capture(ctx, fixture_site.url("/article")), capture(ctx, fixture_site.url("/doc.pdf"))]
    with ctx.sessions() as session:
        captures = load_captures(session, ids + [999])           # unknown ids are left out
    assert [c.id for c in captures] == ids
    made = []
    for _ in range(2):
        out = io.BytesIO()
        summary = PinnedWriter(ctx.settings, open_storage(ctx.settings.storage_url), title="t").write(out, captures)
        made.append(out.getvalue())
    assert made[0] == made[1]
    assert summary.capture_ids == ids and [p.capture_id for p in summary.pages] == ids
    datapackage = json.loads(read_package_bytes(made[0])["datapackage.json"])
    assert datapackage["created"] == "2026-03-01T12:00:00Z"
    assert "home" not in datapackage                              # two pages: no single home
    with zipfile.ZipFile(io.BytesIO(made[0])) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2026, 3, 1, 12, 0, 0)}

    failed = capture(ctx, "http://127.0.0.1:9/refused")
    with ctx.sessions() as session:
        [row] = load_captures(session, [failed])
    out = io.BytesIO()
    with pytest.raises(NothingToPackage, match=f"capture {failed} has no WARC records"):
        PinnedWriter(ctx.settings, open_storage(ctx.settings.storage_url), title="t").write(out, captures + [row])
    assert out.getvalue() == b""                                   # refused before a byte


def test_a_search_with_too_many_matches_is_refused(ctx, fixture_site):
    ids = [capture(ctx, fixture_site.url(f"/article?n={n}")) for n in range(3)]
    with ctx.sessions() as session:
        assert sorted(matching_capture_ids(session, SearchQuery(), limit=3)) == sorted(ids)
        with pytest.raises(TooManyMatches, match="at most 2: narrow the search"):
            matching_capture_ids(session, SearchQuery(), limit=2)
    assert MAX_SEARCH_CAPTURES == 500


def test_pages_link_to_the_downloads(client, ctx, fixture_site):
    capture_id = capture(ctx, fixture_site.url("/article"))
    page = client.get(f"/captures/{capture_id}").data.decode()
    assert f'href="/api/v1/captures/{capture_id}/wacz"' in page
    search = client.get("/search?q=lighthouse&site=127.0.0.1").data.decode()
    assert 'href="/api/v1/search.wacz?q=lighthouse&amp;site=127.0.0.1"' in search


def test_openapi_describes_the_downloads(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/captures/{capture_id}/wacz", "/api/v1/search.wacz"):
        assert "application/wacz" in paths[path]["get"]["responses"]["200"]["content"]

"""Faithful snapshots: a page's images, stylesheets (and what they import and load), scripts,
fonts and icons are found, fetched through the same guarded fetcher, written into the
capture's WARC, catalogued, indexed, and replayed by pywb with the page."""
from __future__ import annotations

import base64
import hashlib
import io
import json
from urllib.parse import urljoin

import pytest
import requests
from bs4 import BeautifulSoup
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.config import ConfigError
from archiver.db import migrate
from archiver.fetch.css import css_references
from archiver.fetch.requisites import (
    _parsed_requisites, css_requisites, html_requisites, may_name_requisites, srcset_urls,
)
from archiver.models import Capture, CaptureRecord
from archiver.replay import capture_timestamp, replay_url
from archiver.warc import verify_warc_file
from tests.conftest import capture_now as capture, make_settings
from tests.fixture_site import REQUISITE_ASSETS, build_png
from tests.replay_server import free_port, replay_server, require_replay
from tests.test_fetch import tripwire  # noqa: F401  (records every connection attempt)
from workers.context import build_context

ASSETS = "/requisites/assets/"
# what /requisites/page loads, directly or through its stylesheets (fixture_site.py)
EXPECTED_FETCHED = {
    "main.css": ("stylesheet", "link rel=stylesheet"),
    "favicon.ico": ("icon", "link rel=icon"),
    "touch.png": ("icon", "link rel=apple-touch-icon"),
    "app.js": ("script", "script src"),
    "hero.png": ("image", "style element url()"),
    "logo.png": ("image", "img src"),
    "photo-1x.png": ("image", "img srcset"),
    "photo-2x.png": ("image", "img srcset"),
    "wide.png": ("image", "picture source srcset"),
    "narrow.png": ("image", "picture source srcset"),
    "fallback.png": ("image", "img src"),
    "missing.png": ("image", "img src"),              # a 404, archived as such
    "more.css": ("stylesheet", "css @import"),
    "fonts/fixture.woff2": ("font", "css url()"),
    "bg.png": ("image", "css url()"),
    "deeper.css": ("stylesheet", "css @import"),
    "more-bg.png": ("image", "css url()"),
}


# --- finding them -----------------------------------------------------------------------

def test_html_requisites_resolve_against_base_and_keep_http_only():
    html = """<html><head><base href="https://cdn.example/assets/">
    <link rel="stylesheet" href="a.css"><link rel="STYLESHEET alternate" href="/b.css">
    <link rel="shortcut icon" href="favicon.ico"><link rel="apple-touch-icon" href="t.png">
    <link rel="preconnect" href="https://fonts.example/"><link rel="canonical" href="/page">
    <script src="app.js#v2"></script><script>var inline = 1;</script>
    <style>@import "c.css"; body { background: url(bg.png) }</style></head>
    <body style="background-image: url('body.png')">
    <img src="one.png" srcset="one.png 1x, two.png 2x">
    <picture><source srcset="p-800.webp 800w, p-400.webp 400w"><img src="p.jpg"></picture>
    <video><source src="movie.mp4"></video>
    <img src="javascript:alert(1)"><img src="data:image/gif;base64,R0lGOD"><img src="">
    <img src="http://[::1/broken.png"><img src="two.png">
    <a href="next.html">next</a></body></html>"""
    found = html_requisites(html, "https://site.example/news/page.html")
    got = [(r.url, r.kind, r.source) for r in found.requisites]
    cdn = "https://cdn.example"
    assert got == [
        (f"{cdn}/assets/a.css", "stylesheet", "link rel=stylesheet"),
        (f"{cdn}/b.css", "stylesheet", "link rel=stylesheet"),
        (f"{cdn}/assets/favicon.ico", "icon", "link rel=shortcut icon"),
        (f"{cdn}/assets/t.png", "icon", "link rel=apple-touch-icon"),
        (f"{cdn}/assets/app.js", "script", "script src"),           # fragment dropped
        (f"{cdn}/assets/c.css", "stylesheet", "style element @import"),
        (f"{cdn}/assets/bg.png", "image", "style element url()"),
        (f"{cdn}/assets/body.png", "image", "style attribute url()"),
        (f"{cdn}/assets/one.png", "image", "img src"),
        (f"{cdn}/assets/two.png", "image", "img srcset"),
        (f"{cdn}/assets/p-800.webp", "image", "picture source srcset"),
        (f"{cdn}/assets/p-400.webp", "image", "picture source srcset"),
        (f"{cdn}/assets/p.jpg", "image", "img src"),
    ]
    skipped = {s.url.split(":")[0]: s.reason for s in found.skipped}
    assert skipped == {"javascript": "not_http", "data": "not_http", "http": "invalid_url"}


@pytest.mark.parametrize("html, may", [
    ("<html><body><p>Plain text, with links: <a href=/about>about</a></p></body></html>", False),
    ("<p>1 < 2 and a < img or < link: no tags</p><p>&lt;img src=x&gt;</p>", False),
    ("<IMG SRC=/a.png>", True), ("<Link REL=Stylesheet HREF=/s.css>", True),
    ("<picture><Source srcset='/p.png 2x'></picture>", True), ("<SCRIPT src=/a.js></SCRIPT>", True),
    ("<div STYLE='background: url(/b.png)'>", True),
    ("<StYlE>p{background:url(/c.png)}</StYlE>", True),
    ("<base href=http://other.example/><image src=/d.png>", True),
    ("<section><p>a style guide</p></section>", True),
])
def test_a_document_is_parsed_for_requisites_unless_it_cannot_name_any(html, may):
    """html_requisites skips parsing a document that cannot name a requisite; whatever it
    decides, it finds what parsing finds."""
    assert may_name_requisites(html) is may
    page = "http://site.example/p"
    found, parsed = html_requisites(html, page), _parsed_requisites(html, page)
    assert (found.requisites, found.skipped) == (parsed.requisites, parsed.skipped)
    if not may:
        assert not parsed.requisites and not parsed.skipped


def test_srcset_candidates_may_hold_commas_and_descriptors():
    assert srcset_urls("a.png 1x, b.png 2x") == ["a.png", "b.png"]
    assert srcset_urls("img.jpg?w=100,h=50 100w,img.jpg?w=200,h=100 200w") == [
        "img.jpg?w=100,h=50", "img.jpg?w=200,h=100"]
    assert srcset_urls("  single.png  ") == ["single.png"]
    assert srcset_urls("a.png,b.png") == ["a.png,b.png"]      # no space: one URL, as browsers read it
    assert srcset_urls("x.png (max-width: 2px, 3px) 1x, y.png") == ["x.png", "y.png"]
    assert srcset_urls("") == []


def test_css_scanner_finds_imports_fonts_and_images_but_not_comments():
    css = r"""@charset "utf-8";
    @import "a.css"; @import url(b.css) screen; @import url( 'c.css' );
    /* body { background: url(commented.png) } */
    @font-face { font-family: X; src: url(f.woff2) format("woff2"), URL("f.woff") format("woff"); }
    .a { background: url( "with space\ and paren).png" ) no-repeat; }
    .b { cursor: url(data:image/png;base64,AAAA), auto; mask: url(#svg-mask); }
    .c { background: url() }"""
    refs = [(r.url, r.kind) for r in css_references(css)]
    assert refs == [("a.css", "stylesheet"), ("b.css", "stylesheet"), ("c.css", "stylesheet"),
                    ("f.woff2", "font"), ("f.woff", "font"), ("with space and paren).png", "image"),
                    ("data:image/png;base64,AAAA", "image"), ("#svg-mask", "image")]
    found = css_requisites(css, "https://site.example/css/main.css")
    assert [r.url for r in found.requisites] == [
        "https://site.example/css/a.css", "https://site.example/css/b.css",
        "https://site.example/css/c.css", "https://site.example/css/f.woff2",
        "https://site.example/css/f.woff",
        "https://site.example/css/with%20space%20and%20paren).png"]
    # "#svg-mask" is the stylesheet itself (a fragment of it): not fetched again
    assert [s.reason for s in found.skipped] == ["not_http"]


# --- a capture with its requisites ------------------------------------------------------

def read_records(ctx, row: Capture) -> list[tuple[CaptureRecord, object, bytes]]:
    """Each catalogued record read back by its offset, digests checked by warcio."""
    path = ctx.settings.open_warc_dir / f"{row.warc_file.filename}.open"
    out = []
    with open(path, "rb") as handle:
        for loc in row.records:
            handle.seek(loc.offset)
            [(record, raw)] = [(r, r.raw_stream.read()) for r in
                               ArchiveIterator(io.BytesIO(handle.read(loc.length)), check_digests="raise")]
            out.append((loc, record, raw))
    return out


def sha256_b32(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def asset(fixture_site, name: str) -> str:
    return fixture_site.url(ASSETS + name)


def test_a_page_is_archived_with_its_requisites(make_ctx, fixture_site, tripwire):  # noqa: F811
    ctx = make_ctx()
    page_url = fixture_site.url("/requisites/page")
    before = len(fixture_site.requests)
    row = capture(ctx, page_url)
    assert row.state == "stored" and row.error is None       # failed requisites do not fail it
    assert row.http_status == 200 and row.final_url == page_url

    # what was fetched, how it was found, and nothing more
    req = row.requisites
    fetched = {f["url"]: f for f in req["fetched"]}
    assert set(fetched) == {asset(fixture_site, name) for name in EXPECTED_FETCHED}
    for name, (kind, source) in EXPECTED_FETCHED.items():
        entry = fetched[asset(fixture_site, name)]
        assert (entry["kind"], entry["source"]) == (kind, source), name
        if name in REQUISITE_ASSETS:
            body = REQUISITE_ASSETS[name][0]
            assert entry["status"] == 200 and entry["payload_sha256"] == hashlib.sha256(body).hexdigest()
    assert fetched[asset(fixture_site, "missing.png")]["status"] == 404
    assert fetched[asset(fixture_site, "more.css")]["found_in"] == asset(fixture_site, "main.css")
    assert req["bytes"] == sum(f["payload_size"] for f in req["fetched"])
    requested = fixture_site.requests[before:]
    assert sorted(requested) == sorted(["/requisites/page", "/requisites/assets/garbage.png"]
                                       + [ASSETS + name for name in EXPECTED_FETCHED])

    # what was skipped, and why; the internal address was never connected to
    skipped = {s["url"]: s for s in req["skipped"]}
    assert {url: s["reason"] for url, s in skipped.items()} == {
        "data:image/png;base64,iVBORw0KGgo=": "not_http",
        "http://10.0.0.1/x.png": "refused_address",
        asset(fixture_site, "garbage.png"): "protocol",
        asset(fixture_site, "deepest.css"): "too_deep",
    }
    assert "ARCHIVER_ALLOW_PRIVATE" in skipped["http://10.0.0.1/x.png"]["detail"]
    assert skipped[asset(fixture_site, "deepest.css")]["found_in"] == asset(fixture_site, "deeper.css")
    assert not [a for a in tripwire if a[0] == "10.0.0.1"]
    assert all(a == ("127.0.0.1", fixture_site.port) for a in tripwire)

    # the WARC: the page's hops, every requisite's response and request, then the provenance
    records = read_records(ctx, row)
    kinds = [(loc.record_type, loc.requisite) for loc, _, _ in records]
    assert kinds[:2] == [("response", False), ("request", False)]
    assert kinds[2:2 + 2 * len(fetched)] == [("response", True), ("request", True)] * len(fetched)
    assert [k for k, requisite in kinds[2 + 2 * len(fetched):]][0] == "metadata"
    by_id = {}
    for loc, record, raw in records:
        assert loc.target_uri == record.rec_headers.get_header("WARC-Target-URI")
        assert loc.block_digest == record.rec_headers.get_header("WARC-Block-Digest")
        by_id[record.rec_headers.get_header("WARC-Record-ID")] = (loc, record, raw)
        if not loc.requisite or loc.record_type != "response":
            continue
        name = loc.target_uri.removeprefix(fixture_site.url(ASSETS))
        assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        if name in REQUISITE_ASSETS:
            assert raw == REQUISITE_ASSETS[name][0]                      # the exact bytes
            assert record.rec_headers.get_header("WARC-Payload-Digest") == sha256_b32(raw)
    requests_ = [(loc, rec) for loc, rec, _ in records if loc.requisite and loc.record_type == "request"]
    assert len(requests_) == len(fetched)
    for loc, rec in requests_:
        response_loc, _, _ = by_id[rec.rec_headers.get_header("WARC-Concurrent-To")]
        assert response_loc.target_uri == loc.target_uri and response_loc.record_type == "response"
    # the provenance record in the WARC carries the same account of the requisites
    [provenance] = [json.loads(raw) for loc, record, raw in records if loc.record_type == "metadata"
                    and loc.target_uri.startswith("urn:archiver:provenance:")]
    assert provenance["requisites"] == req
    report = verify_warc_file(ctx.settings.open_warc_dir / f"{row.warc_file.filename}.open")
    assert report.ok, report.problems


def test_the_api_and_the_capture_page_show_the_requisites(make_ctx, fixture_site):
    from archiver.web import create_app

    ctx = make_ctx()
    row = capture(ctx, fixture_site.url("/requisites/page"))
    client = create_app(ctx.settings).test_client()
    body = client.get(f"/api/v1/captures/{row.id}").get_json()
    assert len(body["requisites"]["fetched"]) == len(EXPECTED_FETCHED)
    assert {s["reason"] for s in body["requisites"]["skipped"]} == {
        "not_http", "refused_address", "protocol", "too_deep"}
    records = body["provenance"]["storage"]["records"]
    assert sum(r["requisite"] for r in records) == 2 * len(EXPECTED_FETCHED)
    page = client.get(f"/captures/{row.id}").get_data(as_text=True)
    summary = " ".join(BeautifulSoup(page, "lxml").find(id="requisites-summary").get_text().split())
    assert summary.startswith(f"{len(EXPECTED_FETCHED)} fetched ({row.requisites['bytes']} bytes), 4 skipped")
    assert "refused_address" in page and "http://10.0.0.1/x.png" in page


def test_requisites_are_catalogued_on_sqlite_and_postgresql(make_ctx, fixture_site, database_url):
    ctx = make_ctx(database_url=database_url)
    row = capture(ctx, fixture_site.url("/requisites/page"))
    with ctx.sessions() as session:
        flags = session.execute(select(CaptureRecord.requisite, CaptureRecord.record_type)
                                .where(CaptureRecord.capture_id == row.id)
                                .order_by(CaptureRecord.offset)).all()
        stored = session.get(Capture, row.id).requisites
    assert [f for f, _ in flags].count(True) == 2 * len(EXPECTED_FETCHED)
    assert flags[0] == (False, "response") and flags[-1][0] is False
    assert len(stored["fetched"]) == len(EXPECTED_FETCHED) and len(stored["skipped"]) == 4


def test_a_page_that_is_not_html_has_no_requisites(make_ctx, fixture_site):
    row = capture(make_ctx(), fixture_site.url("/image.png"))
    assert row.state == "stored" and row.requisites is None
    assert not any(r.requisite for r in row.records)


def test_the_count_limit_skips_the_rest_with_its_reason(make_ctx, fixture_site):
    ctx = make_ctx(max_requisites=5)
    before = len(fixture_site.requests)
    row = capture(ctx, fixture_site.url("/requisites/many?n=12"))
    assert row.state == "stored"
    fetched = [f["url"] for f in row.requisites["fetched"]]
    assert fetched == [asset(fixture_site, f"many-{i}.png") for i in range(5)]   # in page order
    skipped = row.requisites["skipped"]
    assert [s["url"] for s in skipped] == [asset(fixture_site, f"many-{i}.png") for i in range(5, 12)]
    assert {s["reason"] for s in skipped} == {"over_count_limit"}
    assert "ARCHIVER_MAX_REQUISITES" in skipped[0]["detail"]
    assert len(fixture_site.requests) - before == 1 + 5                # nothing past the limit
    assert sum(r.requisite for r in row.records) == 2 * 5


def test_the_byte_limit_keeps_the_archive_within_it(make_ctx, fixture_site):
    size = len(build_png(8))                       # every many-N.png
    ctx = make_ctx(requisites_max_bytes=int(size * 2.5))
    row = capture(ctx, fixture_site.url("/requisites/many?n=8"))
    assert row.state == "stored"
    assert [f["url"] for f in row.requisites["fetched"]] == [
        asset(fixture_site, f"many-{i}.png") for i in range(2)]
    assert row.requisites["bytes"] == 2 * size <= ctx.settings.requisites_max_bytes
    skipped = row.requisites["skipped"]
    # some were fetched alongside the last ones that fitted: they are not archived either
    assert sorted(s["url"] for s in skipped) == sorted(
        asset(fixture_site, f"many-{i}.png") for i in range(2, 8))
    assert {s["reason"] for s in skipped} == {"over_byte_limit"}
    assert sum(r.requisite for r in row.records) == 2 * 2


def test_the_requisites_deadline_stops_the_rest(make_ctx, fixture_site):
    ctx = make_ctx(requisites_deadline=2.0, requisite_concurrency=1)
    row = capture(ctx, fixture_site.url("/requisites/slow-page"))
    assert row.state == "stored"
    [slow] = row.requisites["fetched"]
    assert slow["url"] == fixture_site.url("/slow") and slow["truncated"] == "time"
    [late] = row.requisites["skipped"]
    assert late["url"] == asset(fixture_site, "logo.png") and late["reason"] == "deadline"
    [response] = [r for r in row.records if r.requisite and r.record_type == "response"]
    assert response.target_uri == fixture_site.url("/slow")


def test_zero_requisites_turns_them_off(make_ctx, fixture_site):
    before = len(fixture_site.requests)
    row = capture(make_ctx(max_requisites=0), fixture_site.url("/requisites/page"))
    assert row.state == "stored" and row.requisites is None
    assert fixture_site.requests[before:] == ["/requisites/page"]


@pytest.mark.parametrize("env, message", [
    ({"ARCHIVER_MAX_REQUISITES": "-1"}, "ARCHIVER_MAX_REQUISITES=-1 must be between 0"),
    ({"ARCHIVER_REQUISITES_MAX_BYTES": "lots"}, "ARCHIVER_REQUISITES_MAX_BYTES='lots' must be a whole"),
    ({"ARCHIVER_REQUISITES_DEADLINE": "0"}, "ARCHIVER_REQUISITES_DEADLINE=0.0 must be above zero"),
    ({"ARCHIVER_REQUISITE_CONCURRENCY": "0"}, "ARCHIVER_REQUISITE_CONCURRENCY=0 must be between 1"),
    ({"ARCHIVER_REQUISITE_CSS_DEPTH": "11"}, "ARCHIVER_REQUISITE_CSS_DEPTH=11 must be between 1 and 10"),
    ({"ARCHIVER_TOTAL_DEADLINE": "200", "ARCHIVER_REQUISITES_DEADLINE": "100"},
     r"ARCHIVER_TOTAL_DEADLINE \+ ARCHIVER_REQUISITES_DEADLINE must be below"),
])
def test_requisite_settings_are_validated(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        make_settings(tmp_path, **env)
    defaults = make_settings(tmp_path)
    assert (defaults.max_requisites, defaults.requisites_max_bytes, defaults.requisites_deadline,
            defaults.requisite_concurrency, defaults.requisite_css_depth) == (
        200, 50 * 1024 * 1024, 60.0, 4, 3)


# --- replay -------------------------------------------------------------------------------

def test_pywb_replays_the_page_with_its_image_and_stylesheet(tmp_path, fixture_site):
    """Indexed at capture time (no reindex): the replayed page's image and stylesheet, and
    what the stylesheet loads, resolve inside the archive to the archived bytes."""
    require_replay()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    settings = make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=fixture_site.allow,
                             ARCHIVER_REPLAY_PORT=free_port(), ARCHIVER_TOTAL_DEADLINE=20,
                             ARCHIVER_READ_TIMEOUT=5, ARCHIVER_CONNECT_TIMEOUT=3)
    migrate(settings.database_url)
    ctx = build_context(settings)
    try:
        row = capture(ctx, fixture_site.url("/requisites/page"))
        assert row.state == "stored"
        with replay_server(settings) as base:
            page_address = replay_url(settings, row.final_url, capture_timestamp(row))
            page = requests.get(page_address, timeout=30)
            assert page.status_code == 200
            soup = BeautifulSoup(page.text, "lxml")
            # resolve as a browser would: against the (rewritten) <base href>
            base_href = urljoin(page.url, soup.find("base")["href"])
            assert base_href.startswith(base + "/")             # rewritten into the archive

            img = soup.find("img", alt="logo")
            image = requests.get(urljoin(base_href, img["src"]), timeout=30)
            assert image.status_code == 200 and image.url.startswith(base + "/")
            assert image.content == REQUISITE_ASSETS["logo.png"][0]

            link = soup.find("link", rel="stylesheet")
            sheet = requests.get(urljoin(base_href, link["href"]), timeout=30)
            assert sheet.status_code == 200 and sheet.url.startswith(base + "/")
            assert "text/css" in sheet.headers["Content-Type"]
            assert "font-family: Fixture" in sheet.text
            loaded = {}
            for ref in css_references(sheet.text):
                answer = requests.get(urljoin(sheet.url, ref.url), timeout=30)
                assert answer.status_code == 200 and answer.url.startswith(base + "/"), ref
                loaded[ref.kind] = answer.content
            assert loaded["font"] == REQUISITE_ASSETS["fonts/fixture.woff2"][0]
            assert loaded["image"] == REQUISITE_ASSETS["bg.png"][0]
            assert "@import" in loaded["stylesheet"].decode()       # more.css, rewritten
    finally:
        ctx.writer.close()


def test_requisite_records_are_in_the_replay_index(make_ctx, fixture_site):
    from archiver.replay import index as replay_index

    ctx = make_ctx()
    row = capture(ctx, fixture_site.url("/requisites/page"))
    lines = replay_index.lookup(ctx.settings, "")
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in lines}
    with ctx.sessions() as session:
        targets = set(session.scalars(select(CaptureRecord.target_uri).where(
            CaptureRecord.capture_id == row.id, CaptureRecord.requisite.is_(True),
            CaptureRecord.record_type == "response")))
    assert targets and targets <= indexed

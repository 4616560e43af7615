"""Browser-mode captures (archiver/browser): a page that builds its article by script, loaded
in Debian's Chromium, every request it makes fetched by the project's guarded fetcher and
archived; a screenshot and the rendered DOM as resource records; replayed by pywb.

The fixture pages are on the loopback fixture site. Plain mode on the same page is the
control: it archives the empty shell. Without Chromium these tests skip on a laptop and
fail in CI (CI=true), as tests/test_browser.py does.
"""
from __future__ import annotations

import io
import json
import re
import socket
import struct
import subprocess
import tempfile
import threading
import zlib
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.capture import run_capture
from archiver.models import Capture, CaptureRecord
from archiver.replay import capture_timestamp, replay_url
from archiver.warc import read_record
from tests.conftest import capture_now as capture, capture_contexts, make_settings, service_missing
from tests.live_service import live_service
from tests.netguard import Tripwire
from tests.pywb_replay import pywb_replay
from tests.replay_server import free_port, replay_server, require_replay

CHROMIUM = Path("/usr/bin/chromium")
PHRASE = "The lighthouse keeper's log was found under the floorboards of the lantern room"
ARTICLE = {
    "title": "Keeper's log found",
    "paragraphs": [
        PHRASE + ", wrapped in oilcloth and tied with tarred twine, where it had lain since the "
        "light went dark.",
        "It records forty winters of storms, of ships that passed and ships that did not, and of "
        "every gallon of lamp oil carried up the hundred and twelve steps of the tower.",
        "The council will lend the log to the town museum once its pages have been dried, and a "
        "copy will be read aloud at the ceremony when the restored lamp is lit again.",
    ],
}
# A shell that fills itself from JSON, and an image far below the fold that is only
# requested once it scrolls into view.
SHELL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>The Harbour Gazette</title></head>
<body><main><article id="article"><p class="loading">Loading...</p></article></main>
<div style="height: 4000px"></div>
<img id="lazy" alt="the log book">
<script>
fetch("article.json").then(r => r.json()).then(data => {
  const article = document.getElementById("article");
  article.innerHTML = "";
  const h1 = document.createElement("h1"); h1.textContent = data.title; article.append(h1);
  for (const text of data.paragraphs) {
    const p = document.createElement("p"); p.textContent = text; article.append(p);
  }
});
new IntersectionObserver((seen, observer) => {
  for (const entry of seen) if (entry.isIntersecting) {
    entry.target.src = "lazy.png"; observer.disconnect();
  }
}).observe(document.getElementById("lazy"));
</script></body></html>"""


def png(width: int = 8, height: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


LAZY_PNG = png(24, 24)


@pytest.fixture(scope="module", autouse=True)
def chromium():
    if not CHROMIUM.exists():
        service_missing(f"Chromium at {CHROMIUM}", "not installed (apt-get install chromium)")


def serve_article(site, folder: str) -> str:
    """The shell page and what its script and scroll load, under /<folder>/; its URL."""
    site.set_page(f"/{folder}/page", SHELL)
    site.set_page(f"/{folder}/article.json", json.dumps(ARTICLE), content_type="application/json")
    site.set_page(f"/{folder}/lazy.png", LAZY_PNG, content_type="image/png")
    return site.url(f"/{folder}/page")


def record_block(ctx, loc: CaptureRecord) -> bytes:
    """A record's payload (after the HTTP headers, for a response), its digests checked."""
    record = read_record(ctx.writer.storage, ctx.settings, loc.warc_file.filename, loc.offset,
                         loc.length, check_digests=True)
    data = record.content_stream().read()
    assert not record.digest_checker.problems, record.digest_checker.problems
    return data


def responses(row: Capture) -> dict[str, CaptureRecord]:
    return {r.target_uri: r for r in row.records if r.record_type == "response"}


def browser_profiles() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("archiver-browser-*")}


def own_temp_folder(tmp_path, monkeypatch) -> None:
    """Temporary files of this test (the browser's profile) in a folder of its own, so that
    tests running beside it do not leave theirs in what it looks at."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))


def replay_settings(tmp_path, site, **env):
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=site.allow, ARCHIVER_REPLAY_PORT=free_port(),
                         ARCHIVER_TOTAL_DEADLINE=20, ARCHIVER_READ_TIMEOUT=5,
                         ARCHIVER_CONNECT_TIMEOUT=3, ARCHIVER_BROWSER_DEADLINE=30, **env)


def replayed_page(page_address: str) -> tuple[str, int]:
    """The replayed page's article as a browser shows it once its (replayed) script ran, and
    the width of its lazy image once scrolled to (0: not loaded)."""
    from playwright.sync_api import sync_playwright
    from archiver.browser.launch import BASE_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=list(BASE_ARGS))
        try:
            page = browser.new_page()
            page.goto(page_address, wait_until="load", timeout=60_000)
            page.locator("#article h1").wait_for(timeout=30_000)
            page.locator("#lazy").scroll_into_view_if_needed()
            page.wait_for_function("document.getElementById('lazy').complete && "
                                   "document.getElementById('lazy').naturalWidth > 0", timeout=30_000)
            return (page.locator("#article").inner_text(),
                    page.evaluate("document.getElementById('lazy').naturalWidth"))
        finally:
            browser.close()


# --- the script-built page: browser mode has it, plain mode does not ----------------------

def test_browser_mode_archives_and_replays_the_content_a_script_builds(tmp_path, fixture_site, monkeypatch):
    require_replay()
    own_temp_folder(tmp_path, monkeypatch)
    settings = replay_settings(tmp_path, fixture_site)
    url = serve_article(fixture_site, "bc-browser")
    with capture_contexts() as make:
        ctx = make(settings)
        row = capture(ctx, url, "browser")
        assert row.state == "stored", row.error
        assert row.mode == "browser"

        # the text is the rendered article's, and search finds it
        assert PHRASE in row.text
        assert row.browser["text_from"] == "rendered DOM"
        from archiver.search import search_index_for
        from archiver.search.query import SearchQuery
        with ctx.sessions() as session:
            hits = search_index_for(session).search(session, SearchQuery(text='"lantern room"'))
        assert [hit.capture_id for hit in hits.hits] == [row.id]

        # the script's JSON and the image loaded on scroll are archived, request and response
        archived = responses(row)
        base = url.rsplit("/", 1)[0]
        assert {url, f"{base}/article.json", f"{base}/lazy.png"} <= set(archived)
        requests_sent = {r.target_uri for r in row.records if r.record_type == "request"}
        assert {f"{base}/article.json", f"{base}/lazy.png"} <= requests_sent
        assert json.loads(record_block(ctx, archived[f"{base}/article.json"])) == ARTICLE
        assert record_block(ctx, archived[f"{base}/lazy.png"]) == LAZY_PNG
        fetched = {entry["url"] for entry in row.requisites["fetched"]}
        assert fetched == {f"{base}/article.json", f"{base}/lazy.png"}

        # the screenshot is a PNG of the whole page; the DOM record holds the rendered article
        resources = {r.target_uri: r for r in row.records if r.record_type == "resource"}
        assert set(resources) == {f"urn:screenshot:{url}", f"urn:dom:{url}"}
        shot = record_block(ctx, resources[f"urn:screenshot:{url}"])
        assert shot.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", shot[16:24])
        assert (width, height) == (1280, row.browser["screenshot"]["height"])
        assert height > 4000                                     # the full page, not the viewport
        dom = record_block(ctx, resources[f"urn:dom:{url}"]).decode("utf-8")
        assert PHRASE in dom and 'src="lazy.png"' in dom
        assert PHRASE not in record_block(ctx, archived[url]).decode("utf-8")   # the raw shell

        # provenance: the browser's name and version, its user agent, the viewport
        version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True).stdout
        assert row.browser["name"] == "chromium"
        assert row.browser["version"] and row.browser["version"] in version
        assert "HeadlessChrome" in row.browser["user_agent"]
        assert row.browser["viewport"] == {"width": 1280, "height": 800}
        assert row.browser["settled"] and row.browser["loaded"] and row.browser["blocked"] == []
        metadata = next(r for r in row.records if r.record_type == "metadata"
                        and r.target_uri.startswith("urn:archiver:provenance:"))
        in_warc = json.loads(record_block(ctx, metadata))
        assert in_warc["mode"] == "browser" and in_warc["browser"]["version"] == row.browser["version"]

        # replay as for any capture: the app's replay origin (indexed at capture time) has what
        # the script and the scroll loaded
        stamp = capture_timestamp(row)
        with replay_server(settings):
            data = requests.get(replay_url(settings, f"{base}/article.json", stamp, raw=True), timeout=30)
            assert data.status_code == 200 and data.json() == ARTICLE
            image = requests.get(replay_url(settings, f"{base}/lazy.png", stamp, raw=True), timeout=30)
            assert image.status_code == 200 and image.content == LAZY_PNG
            # in a browser, the app's replay origin runs the archived shell's script in its
            # sandbox (an opaque origin): it fetches the archived JSON and shows the article,
            # and scrolling loads the archived image
            shown, image_width = replayed_page(replay_url(settings, url, stamp))
            assert PHRASE in shown and image_width == 24
        # and pywb itself, over the sealed WARC, replays it the same
        ctx.writer.seal()
        with pywb_replay(settings.warc_dir) as pywb:
            shown, image_width = replayed_page(pywb.page_url(url, stamp))
        assert PHRASE in shown and image_width == 24
    assert browser_profiles() == set()          # the fresh profile was removed


def test_plain_mode_archives_only_the_empty_shell(tmp_path, fixture_site):
    require_replay()
    settings = replay_settings(tmp_path, fixture_site)
    url = serve_article(fixture_site, "bc-plain")
    base = url.rsplit("/", 1)[0]
    with capture_contexts() as make:
        ctx = make(settings)
        row = capture(ctx, url, "plain")
        assert row.state == "stored" and row.mode == "plain" and row.browser is None
        assert PHRASE not in (row.text or "")
        assert set(responses(row)) == {url}           # nothing the script or the scroll loads
        assert not [r for r in row.records if r.record_type == "resource"]
        with replay_server(settings):
            stamp = capture_timestamp(row)
            data = requests.get(replay_url(settings, f"{base}/article.json", stamp, raw=True), timeout=30)
            assert data.status_code == 404
            page = requests.get(replay_url(settings, url, stamp, raw=True), timeout=30)
            assert page.status_code == 200 and PHRASE not in page.text


# --- the guard: requests to refused addresses never leave ---------------------------------

class CountingListener:
    """A loopback port that is not allowed: counts every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


def test_requests_to_refused_addresses_are_blocked_and_recorded(make_ctx, fixture_site, monkeypatch):
    forbidden = CountingListener()
    try:
        secret = f"http://127.0.0.1:{forbidden.port}"
        fixture_site.set_page("/bc-guard/page", f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Guarded</title><link rel="preconnect" href="{secret}"><link rel="dns-prefetch" href="http://10.0.0.1/">
</head><body><h1>A page that reaches for the inside</h1>
<p>This page asks for addresses a public web page has no business reaching: a cloud metadata
service, a private network address, and a loopback port that is not on the allowlist.</p>
<img src="http://10.0.0.1/private.png" alt="private"><img src="{secret}/secret.png" alt="secret">
<script>
fetch("http://169.254.169.254/latest/meta-data/").catch(() => {{}});
fetch("ok.json").then(r => r.json()).then(d => {{ document.getElementById("ok").textContent = d.ok; }});
navigator.sendBeacon("/bc-guard/beacon", "x");
try {{ new WebSocket("ws://127.0.0.1:{forbidden.port}/socket"); }} catch (e) {{}}
</script><p id="ok"></p></body></html>""")
        fixture_site.set_page("/bc-guard/ok.json", '{"ok": "allowed request answered"}',
                              content_type="application/json")
        ctx = make_ctx()
        site_endpoint = ("127.0.0.1", fixture_site.port)
        wire = Tripwire(allowed={site_endpoint}).install(monkeypatch)
        row = capture(ctx, fixture_site.url("/bc-guard/page"), "browser")
        monkeypatch.undo()
    finally:
        forbidden.close()
    assert row.state == "stored", row.error
    dom = next(r for r in row.records if (r.target_uri or "").startswith("urn:dom:"))
    assert "allowed request answered" in record_block(ctx, dom).decode()   # the allowed one went through
    blocked = {entry["url"]: entry for entry in row.browser["blocked"]}
    for address in ("http://10.0.0.1/private.png", f"{secret}/secret.png",
                    "http://169.254.169.254/latest/meta-data/"):
        assert blocked[address]["reason"] == "refused_address", blocked
    assert blocked[f"ws://127.0.0.1:{forbidden.port}/socket"]["reason"] == "websocket"
    assert blocked[fixture_site.url("/bc-guard/beacon")]["reason"] == "method"
    # refused before a connection: by the fetcher (tripwire) and by Chromium (the listener)
    assert wire.violations == []
    assert all(endpoint == site_endpoint for endpoint in wire.attempts)
    assert forbidden.accepted == 0
    assert not [r for r in row.records if "10.0.0.1" in (r.target_uri or "")
                or "169.254" in (r.target_uri or "")]
    # recorded in the provenance, in the WARC's metadata record too
    metadata = next(r for r in row.records if r.record_type == "metadata"
                    and r.target_uri.startswith("urn:archiver:provenance:"))
    in_warc = json.loads(record_block(ctx, metadata))
    assert {e["url"] for e in in_warc["browser"]["blocked"]} == set(blocked)
    assert "/bc-guard/beacon" not in fixture_site.requests


def test_the_request_limit_is_kept_and_the_rest_recorded(make_ctx, fixture_site):
    url = serve_article(fixture_site, "bc-limit")
    ctx = make_ctx(browser_max_exchanges=1)
    row = capture(ctx, url, "browser")
    assert row.state == "stored"
    base = url.rsplit("/", 1)[0]
    assert [e["url"] for e in row.requisites["fetched"]] == [f"{base}/article.json"]
    assert {(e["url"], e["reason"]) for e in row.browser["blocked"]} == {
        (f"{base}/lazy.png", "over_count_limit")}
    assert f"{base}/lazy.png" not in responses(row)


def test_a_page_that_never_settles_is_stored_at_the_deadline(make_ctx, fixture_site, tmp_path, monkeypatch):
    import time

    own_temp_folder(tmp_path, monkeypatch)
    fixture_site.set_page("/bc-slow/page", """<!DOCTYPE html><html><head><title>Slow</title></head>
<body><h1>Waiting for a slow server</h1><p id="state">asked</p><script>
fetch("/slow-headers").then(() => { document.getElementById("state").textContent = "answered"; });
</script></body></html>""")
    ctx = make_ctx(browser_deadline=4)
    started = time.monotonic()
    row = capture(ctx, fixture_site.url("/bc-slow/page"), "browser")
    took = time.monotonic() - started
    assert row.state == "stored", row.error
    assert took < 30, took                   # start-up, the deadline, screenshot and DOM, writing
    assert row.browser["settled"] is False and row.browser["loaded"] is True
    [slow] = [e for e in row.browser["blocked"] if e["url"].endswith("/slow-headers")]
    assert slow["reason"] == "timeout"
    assert row.browser["screenshot"]["size"] > 0 and row.browser["dom"]["size"] > 0
    assert browser_profiles() == set()          # shut down and cleaned up all the same


def test_a_browser_that_fails_leaves_the_page_stored_as_fetched(make_ctx, fixture_site):
    ctx = make_ctx(browser_path="/bin/false")               # runs, but is no browser
    row = capture(ctx, fixture_site.url("/article"), "browser")
    assert row.state == "stored" and row.mode == "browser"
    assert row.browser["rendered"] is False and row.browser["error"]
    assert "Fixture headline" in row.title                   # the raw HTML's text
    assert row.requisites.get("by") != "browser"             # its requisites fetched as in plain mode
    assert fixture_site.url("/image.png") in {e["url"] for e in row.requisites["fetched"]}
    assert not [r for r in row.records if r.record_type == "resource"]


def test_a_page_that_is_not_html_is_stored_as_fetched(make_ctx, fixture_site):
    ctx = make_ctx()
    row = capture(ctx, fixture_site.url("/plain.txt"), "browser")
    assert row.state == "stored" and row.mode == "browser"
    assert row.browser["rendered"] is False and "not an HTML page" in row.browser["not_rendered"]
    assert not [r for r in row.records if r.record_type == "resource"]


# --- the mode through the API, the form and the settings ----------------------------------

def test_api_takes_the_mode_and_refuses_an_unknown_one(client, ctx, fixture_site):
    bad = client.post("/api/v1/captures", json={"url": fixture_site.url("/article"), "mode": "chrome"})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["field"] == "mode" and "browser" in bad.get_json()["error"]["detail"]
    with ctx.sessions() as session:
        assert session.scalars(select(Capture)).all() == []       # nothing stored
    url = serve_article(fixture_site, "bc-api")
    made = client.post("/api/v1/captures", json={"url": url, "mode": "browser"})
    assert made.status_code in (202, 503), made.get_json()   # 503: no broker in this test
    [capture_id] = made.get_json()["ids"]
    with ctx.sessions() as session:
        session.get(Capture, capture_id).state = "queued"          # queue it by hand
        session.commit()
    run_capture(ctx, capture_id, task_id="test")
    body = client.get(f"/api/v1/captures/{capture_id}").get_json()
    assert body["state"] == "stored" and body["mode"] == "browser"
    shot = client.get(body["links"]["screenshot"])
    assert shot.status_code == 200 and shot.mimetype == "image/png"
    assert shot.data.startswith(b"\x89PNG")
    dom = client.get(body["links"]["dom"])
    assert dom.status_code == 200 and dom.mimetype == "text/plain" and PHRASE in dom.get_data(as_text=True)
    page = client.get(f"/captures/{capture_id}").get_data(as_text=True)
    assert 'id="screenshot"' in page and body["links"]["screenshot"] in page
    assert "Captured in browser mode: chromium" in page


def test_the_form_offers_the_mode_and_the_setting_is_its_default(tmp_path, fixture_site):
    from archiver.config import ConfigError
    from archiver.db import migrate
    from archiver.web import create_app
    from tests.conftest import form_token

    settings = make_settings(tmp_path, ARCHIVER_CAPTURE_MODE="browser",
                             ARCHIVER_ALLOW_PRIVATE=fixture_site.allow)
    migrate(settings.database_url)
    client = create_app(settings).test_client()
    assert re.search(r'<option value="browser" selected>', client.get("/").get_data(as_text=True))
    client.post("/captures", data={"urls": fixture_site.url("/article"), "csrf_token": form_token(client)})
    client.post("/api/v1/captures", json={"url": fixture_site.url("/plain.txt")})
    client.post("/captures", data={"urls": fixture_site.url("/gzip"), "mode": "plain",
                                   "csrf_token": form_token(client)})
    captures = client.get("/api/v1/captures").get_json()["captures"]
    assert {c["url"].rsplit("/", 1)[1]: c["mode"] for c in captures} == {
        "article": "browser", "plain.txt": "browser", "gzip": "plain"}
    with pytest.raises(ConfigError, match="ARCHIVER_CAPTURE_MODE"):
        make_settings(tmp_path, ARCHIVER_CAPTURE_MODE="chrome")
    with pytest.raises(ConfigError, match="ARCHIVER_BROWSER_VIEWPORT"):
        make_settings(tmp_path, ARCHIVER_BROWSER_VIEWPORT="wide")
    assert make_settings(tmp_path, ARCHIVER_BROWSER_VIEWPORT="800x600").browser_viewport == (800, 600)


# --- through the real service: API, Redis, a Celery worker ---------------------------------

def test_a_browser_capture_through_the_worker(tmp_path, redis_url, fixture_site):
    url = serve_article(fixture_site, "bc-worker")
    with live_service(tmp_path / "data", redis_url, fixture_site) as svc:
        answer = svc.submit(url=url, mode="browser")
        assert answer.status_code == 202, answer.text
        body = svc.wait(answer.json()["ids"][0], timeout=120)
        assert body["state"] == "stored", body
        assert body["mode"] == "browser"
        provenance = body["provenance"]
        assert provenance["browser"]["version"] and provenance["browser"]["settled"]
        shot = requests.get(svc.base + body["links"]["screenshot"], timeout=10)
        assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")
        text = requests.get(svc.base + body["links"]["text"], timeout=10).text
        assert PHRASE in text
        warc = requests.get(svc.base + body["links"]["warc"], timeout=30).content
        types = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
                 for r in ArchiveIterator(io.BytesIO(warc))]
        assert ("resource", f"urn:screenshot:{url}") in types
        assert ("response", url.rsplit("/", 1)[0] + "/article.json") in types

        # and from the form, in a real browser: choose browser mode, then see the screenshot
        # on the capture page
        other = serve_article(fixture_site, "bc-form")
        shown = form_capture_in_chromium(svc.base, other)
        assert shown["mode"] == "browser" and shown["screenshot_width"] == 1280
        assert "Captured in browser mode: chromium" in shown["summary"]


def form_capture_in_chromium(base: str, url: str) -> dict:
    from playwright.sync_api import sync_playwright
    from archiver.browser.launch import BASE_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=list(BASE_ARGS))
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.goto(base + "/")
            page.fill("#urls", url)
            page.select_option("#mode", "browser")
            page.click("form.submit button[type=submit]")
            page.wait_for_url(lambda address: "/captures?ids=" in address)
            page.locator("#poll-status", has_text="All captures finished.").wait_for()
            capture_id = page.url.split("ids=")[1].split(",")[0]
            page.goto(f"{base}/captures/{capture_id}")
            page.wait_for_function("document.getElementById('screenshot').complete")
            return {"mode": page.locator("table.provenance tr", has_text="Mode").locator("td").inner_text(),
                    "screenshot_width": page.evaluate("document.getElementById('screenshot').naturalWidth"),
                    "summary": page.locator("#browser-summary").inner_text()}
        finally:
            browser.close()


# --- per watch, and from the command line ----------------------------------------------

def test_a_watch_captures_in_its_mode(client, ctx, fixture_site):
    from datetime import datetime, timedelta, timezone

    from archiver.watches import dispatch, export_list, watchlist

    url = serve_article(fixture_site, "bc-watch")
    bad = client.post("/api/v1/watches", json={"url": url, "cron": "0 * * * *", "mode": "headless"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "mode"
    made = client.post("/api/v1/watches", json={"url": url, "cron": "0 * * * *", "mode": "browser",
                                               "respect_robots": False})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["mode"] == "browser"
    default = client.post("/api/v1/watches", json={"url": fixture_site.url("/article"),
                                                  "cron": "0 * * * *", "respect_robots": False})
    assert default.get_json()["mode"] is None             # the default mode at each run
    with ctx.sessions() as session:
        listed = export_list(session)
    assert f"{url}  tz=UTC  robots=no  mode=browser" in listed
    [entry] = [e for e in watchlist.parse(listed) if e.fields["url"] == url]
    assert entry.fields["mode"] == "browser"

    queued = []
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    dispatch(ctx.sessions, ctx.settings.with_overrides(host_min_interval=0, host_concurrency=100),
             queued.append, now=later, name="test")
    with ctx.sessions() as session:
        modes = {session.get(Capture, i).requested_url: session.get(Capture, i).mode for i in queued}
    assert modes == {url: "browser", fixture_site.url("/article"): "plain"}
    page = client.get(f"/watches/{made.get_json()['id']}").get_data(as_text=True)
    assert '<option value="browser" selected>' in page          # its edit form shows the mode


def test_the_cli_queues_a_browser_capture(tmp_path, fixture_site):
    from tests.live_service import BIN, REPO

    env = {"PATH": "/usr/bin:/bin", "ARCHIVER_DATA_DIR": str(tmp_path / "data"),
           "ARCHIVER_ALLOW_PRIVATE": fixture_site.allow}
    done = subprocess.run([str(BIN / "archiver"), "capture", "--mode", "browser", "--no-wait",
                           fixture_site.url("/article")], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    refused = subprocess.run([str(BIN / "archiver"), "capture", "--mode", "chrome", "--no-wait",
                              fixture_site.url("/article")], env=env, cwd=REPO, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2 and "browser" in refused.stderr
    from sqlalchemy import create_engine
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'catalogue.sqlite3'}")
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.exec_driver_sql("SELECT requested_url, mode FROM captures")] == [
            (fixture_site.url("/article"), "browser")]
    engine.dispose()


def test_a_browser_capture_verifies_and_packs_into_a_valid_wacz(client, ctx, fixture_site, tmp_path):
    from archiver.evidence.verify import verify_capture
    from tests.test_export import check_package

    url = serve_article(fixture_site, "bc-evidence")
    row = capture(ctx, url, "browser")
    ctx.writer.close()                        # sealed: read back from storage by byte range
    report = verify_capture(ctx.sessions, ctx.settings, ctx.writer.storage, row.id)
    assert report.ok, report
    response = client.get(f"/api/v1/captures/{row.id}/wacz")
    assert response.status_code == 200
    path = tmp_path / f"capture-{row.id}.wacz"
    path.write_bytes(response.data)
    response.close()
    files = check_package(path)               # py-wacz's validator and the package's own checks
    warc = files[f"archive/capture-{row.id}.warc.gz"]
    kinds = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
             for r in ArchiveIterator(io.BytesIO(warc))]
    assert ("resource", f"urn:screenshot:{url}") in kinds and ("resource", f"urn:dom:{url}") in kinds

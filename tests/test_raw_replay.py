"""Raw replay from the catalogue (`/raw/<timestamp>/<url>` in the app) against pywb's raw
mode (`/web/<timestamp>id_/<url>`, `archiver replay` started for real) on the same WARCs:
the same status, archived headers, payload and Memento headers; the same choice of capture;
hidden captures refused; archived bytes never run on the app's origin."""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
import requests

from archiver.accounts import service
from archiver.accounts.replay_sync import sync_replay
from archiver.accounts.restrictions import restrict
from archiver.accounts.roles import Viewer
from archiver.db import migrate, transaction
from archiver.models import Capture
from archiver.replay import capture_timestamp
from archiver.replay.raw import parse_timestamp
from archiver.web import create_app, services
from tests.conftest import capture_contexts, service_missing
from tests.fixture_site import PLAIN_TEXT
from tests.replay_server import replay_server, require_replay
from tests.s3_server import s3_server  # noqa: F401  (moto's S3 server on 127.0.0.1)
from tests.test_replay import capture_and_index, load, settings_for, wait_for_next_second
from workers.context import build_context

TIMEOUT = 30
ACCEPT = {"Accept-Encoding": "gzip, deflate"}      # what both sides are asked with, unless told
# what each side adds of its own, besides the archived headers and the Memento ones
# (memento.py opens replay answers to sandboxed pages' own fetches; /raw/ runs no script)
PYWB_OWN = {"date", "content-security-policy", "access-control-allow-origin"}
OURS_OWN = {"content-security-policy", "cross-origin-resource-policy", "x-content-type-options",
            "cache-control", "x-frame-options", "referrer-policy", "vary"}   # Vary: Cookie (visibility)
HOSTILE_HEADERS = [("Set-Cookie", "archiver_session=planted; Path=/"), ("Clear-Site-Data", '"*"'),
                   ("Access-Control-Allow-Origin", "*"), ("Link", "</evil.css>; rel=preload"),
                   ("Refresh", "0; url=http://example.invalid/")]


@dataclass
class Archive:
    settings: object
    ctx: object
    base: str                   # pywb
    client: object              # ours (the app, in process)
    captures: dict[str, Capture]

    def pywb(self, url: str, stamp: str, headers: dict | None = None) -> requests.Response:
        """pywb's answer, its body as sent (requests would undo a Content-Encoding)."""
        answer = requests.get(f"{self.base}/web/{stamp}id_/{url}", timeout=TIMEOUT, stream=True,
                              allow_redirects=False, headers={**ACCEPT, **(headers or {})})
        if not answer._content_consumed:       # (requests reads a redirect's body itself)
            answer._content = answer.raw.read(decode_content=False)
        return answer

    def ours(self, url: str, stamp: str, headers: dict | None = None):
        return self.client.get(f"/raw/{stamp}/{url}", headers={**ACCEPT, **(headers or {})})


def final_stamp(capture: Capture) -> str:
    return capture_timestamp(capture)


def first_stamp(capture: Capture) -> str:
    return datetime.fromisoformat(capture.redirect_chain[0]["started_at"]).astimezone(
        timezone.utc).strftime("%Y%m%d%H%M%S")


@pytest.fixture(scope="module")
def archive(tmp_path_factory, fixture_site):
    require_replay()
    settings = settings_for(tmp_path_factory.mktemp("raw") / "data", fixture_site)
    migrate(settings.database_url)
    ctx = build_context(settings)
    fixture_site.set_page("/raw/hostile", "<html><body><script>document.title='ran'</script></body></html>",
                          headers=HOSTILE_HEADERS)
    made = {}
    try:
        made["article"] = capture_and_index(ctx, fixture_site.url("/article"))
        # the article's requisites include /image.png, and the redirect ends at /article:
        # each a later second (two records of a URL in one second: either may be served)
        wait_for_next_second(made["article"])
        made["image"] = capture_and_index(ctx, fixture_site.url("/image.png"))
        wait_for_next_second(made["image"])            # /gzip, /chunked fetch it again
        made["gzip"] = capture_and_index(ctx, fixture_site.url("/gzip"))
        made["chunked"] = capture_and_index(ctx, fixture_site.url("/chunked"))
        made["redirect"] = capture_and_index(ctx, fixture_site.url("/redirect-to?status=301&url=/article"))
        made["hostile"] = capture_and_index(ctx, fixture_site.url("/raw/hostile"))
        made["changing1"] = capture_and_index(ctx, fixture_site.url("/changing"))
        assert ctx.writer.seal() is not None              # the above are read from storage
        wait_for_next_second(made["redirect"])
        made["revisit"] = capture_and_index(ctx, fixture_site.url("/article"))   # unchanged: a revisit
        made["private"] = capture_and_index(ctx, fixture_site.url("/plain.txt"))
        time_after = made["private"]
        for _ in range(3):                                # /changing again, 3+ seconds later
            wait_for_next_second(time_after)
            time_after = capture_and_index(ctx, fixture_site.url("/404"))
        made["changing2"] = capture_and_index(ctx, fixture_site.url("/changing"))
        assert made["revisit"].revisit_of == made["article"].id
        assert made["redirect"].revisit_of == made["article"].id   # its final hop is a revisit too
        with replay_server(settings) as base:
            app = create_app(settings)
            yield Archive(settings, ctx, base, app.test_client(), made)
    finally:
        ctx.writer.close()


def archived_part(headers, own: set[str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in own | {"memento-datetime", "link"}]


def headers_of(response) -> list[tuple[str, str]]:
    if isinstance(response, requests.Response):
        return list(response.raw.headers.items())
    return list(response.headers.items())


def one(headers, name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name.lower()]


def assert_same_answer(pywb: requests.Response, ours) -> None:
    assert pywb.status_code == ours.status_code, (pywb.status_code, ours.status_code)
    assert pywb.reason == ours.status.split(" ", 1)[1]
    theirs, mine = headers_of(pywb), headers_of(ours)
    assert archived_part(mine, OURS_OWN) == archived_part(theirs, PYWB_OWN)
    assert one(mine, "Memento-Datetime") == one(theirs, "Memento-Datetime") != []
    assert one(mine, "Link") == one(theirs, "Link") != [], (one(mine, "Link"), one(theirs, "Link"))
    assert ours.data == pywb.content


def requisite_stamp(capture: Capture) -> str:
    [image] = [e for e in capture.requisites["fetched"] if e["url"].endswith("/image.png")]
    return datetime.fromisoformat(image["started_at"]).astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


@pytest.mark.parametrize("name,stamp_of", [("article", final_stamp), ("image", final_stamp),
                                           ("article", requisite_stamp),
                                           ("redirect", first_stamp), ("redirect", final_stamp),
                                           ("revisit", final_stamp), ("gzip", final_stamp),
                                           ("changing2", final_stamp)])
def test_raw_answer_is_pywbs_byte_for_byte(archive, name, stamp_of):
    """HTML, an image, the same image as a page's requisite, an archived 301 (its own
    record) and the revisit it led to, a recapture written as a revisit, a gzip-encoded
    page; sealed files and the open one."""
    capture = archive.captures[name]
    url = {first_stamp: capture.requested_url, requisite_stamp: archive.captures["image"].final_url}.get(
        stamp_of, capture.final_url)
    stamp = stamp_of(capture)
    pywb, ours = archive.pywb(url, stamp), archive.ours(url, stamp)
    assert pywb.status_code in (200, 301), pywb.text[:300]
    assert_same_answer(pywb, ours)
    if name == "redirect" and stamp_of is first_stamp:
        assert ours.status_code == 301 and ours.headers["Location"] == "/article"
    if name == "revisit":
        assert hashlib.sha256(ours.data).hexdigest() == archive.captures["article"].payload_sha256


def test_content_encoding_is_kept_or_undone_as_the_client_accepts(archive, fixture_site):
    capture = archive.captures["gzip"]
    url, stamp = capture.final_url, final_stamp(capture)
    accepted = archive.ours(url, stamp, headers={"Accept-Encoding": "gzip"})
    assert accepted.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(accepted.data) == fixture_site.article
    for side in (archive.pywb(url, stamp, headers={"Accept-Encoding": "identity"}),
                 archive.ours(url, stamp, headers={"Accept-Encoding": "identity"})):
        theirs = headers_of(side)
        assert "Content-Encoding" not in dict(theirs)
        assert one(theirs, "X-Archive-Orig-Content-Encoding") == ["gzip"]
        assert (side.content if isinstance(side, requests.Response) else side.data) == fixture_site.article


def test_a_chunked_response_is_dechunked(archive, fixture_site):
    capture = archive.captures["chunked"]
    url, stamp = capture.final_url, final_stamp(capture)
    pywb, ours = archive.pywb(url, stamp), archive.ours(url, stamp)
    assert ours.data == pywb.content == fixture_site.article
    assert one(headers_of(ours), "X-Archive-Orig-Transfer-Encoding") == ["chunked"]
    assert "Transfer-Encoding" not in ours.headers
    # pywb streams the dechunked body in chunks of its own server's; ours sends its length
    mine = [h for h in archived_part(headers_of(ours), OURS_OWN) if h[0] != "Content-Length"]
    assert mine == archived_part(headers_of(pywb), PYWB_OWN | {"transfer-encoding"})
    assert ours.headers["Content-Length"] == str(len(fixture_site.article))


def test_the_closest_capture_is_chosen_as_pywb_chooses(archive, fixture_site):
    first, second = archive.captures["changing1"], archive.captures["changing2"]
    a, b = final_stamp(first), final_stamp(second)
    url = fixture_site.url("/changing")
    moments = {"before all": "20000101000000", "after all": "29991231235959",
               "nearer the first": shift(a, 1), "nearer the second": shift(b, -1)}
    expected = {"before all": a, "after all": b, "nearer the first": a, "nearer the second": b}
    for label, moment in moments.items():
        ours = archive.ours(url, moment)
        pywb = archive.pywb(url, moment)
        assert ours.status_code == pywb.status_code == 302, label
        assert ours.headers["Location"].endswith(f"/raw/{expected[label]}/{url}"), label
        assert pywb.headers["Location"].endswith(f"/web/{expected[label]}id_/{url}"), label
        assert ours.headers["Link"] == f'<{url}>; rel="original"'
    exact = archive.ours(url, b)
    assert exact.status_code == 200 and b"served" in exact.data
    assert exact.data == archive.pywb(url, b).content
    assert archive.ours(url, a).data != exact.data
    partial = archive.ours(url, a[:8])                    # a day: its first second, then closest
    assert partial.status_code == 302 and f"/raw/{a}/" in partial.headers["Location"]


def test_another_spelling_of_the_url_redirects_to_the_captured_one(archive):
    """pywb's index matches URLs by their SURT key; ours answers the same spellings with a
    302 to the URL as captured (at its closest second)."""
    capture = archive.captures["image"]
    url, stamp = capture.final_url, final_stamp(capture)
    rest = url.split("://", 1)[1]
    for spelling in (f"HTTP://{rest}", f"https://{rest}"):
        ours = archive.ours(spelling, stamp)
        assert ours.status_code == 302, spelling
        assert ours.headers["Location"].endswith(f"/raw/{stamp}/{url}")
        assert ours.headers["Link"] == f'<{url}>; rel="original"'
        assert archive.pywb(spelling, stamp).status_code in (200, 302)      # pywb finds it too
    assert archive.ours(f"https://{rest}x", stamp).status_code == 404


def shift(stamp: str, seconds: int) -> str:
    moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").timestamp() + seconds
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y%m%d%H%M%S")


def test_nothing_archived_and_bad_timestamps_say_what_to_do(archive, fixture_site):
    missing = archive.ours(fixture_site.url("/never-captured"), "20260101000000")
    assert missing.status_code == 404 and b"no capture of" in missing.data
    assert archive.pywb(fixture_site.url("/never-captured"), "20260101000000").status_code == 404
    bad = archive.ours(fixture_site.url("/article"), "2026x")
    assert bad.status_code == 400 and b"YYYYMMDDhhmmss" in bad.data
    assert archive.ours(fixture_site.url("/article"), "20261340000000").status_code == 400
    assert parse_timestamp("2026") == "20260101000000" and parse_timestamp("123") is None


def test_archived_headers_that_would_act_on_the_app_are_renamed(archive):
    """pywb passes Set-Cookie, Clear-Site-Data, Link and Refresh on in raw mode (and answers
    every origin with its own Access-Control-Allow-Origin); from the app's origin those
    would plant a session cookie, wipe the visitor's, open the app to other origins: ours
    renames every one, and the archived script cannot run."""
    capture = archive.captures["hostile"]
    url, stamp = capture.final_url, final_stamp(capture)
    pywb, ours = archive.pywb(url, stamp), archive.ours(url, stamp)
    assert ours.data == pywb.content and b"<script>" in ours.data
    mine = headers_of(ours)
    for name, value in HOSTILE_HEADERS:
        if name != "Access-Control-Allow-Origin":
            assert value in one(headers_of(pywb), name)               # pywb passes it on
        assert one(mine, name) == [] or name == "Link"
        assert one(mine, f"X-Archive-Orig-{name}") == [value]
    assert "evil.css" not in ours.headers["Link"]
    policy = ours.headers["Content-Security-Policy"]
    assert re.match(r"sandbox(;|$)", policy)                     # no allow-scripts: nothing runs
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert ours.headers["X-Content-Type-Options"] == "nosniff"
    assert ours.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert ours.headers["Cache-Control"] == "no-store"
    assert "archiver_session=planted" not in str(archive.client.get_cookie("archiver_session"))


def test_every_raw_memento_carries_the_sandbox(archive):
    for name, capture in archive.captures.items():
        ours = archive.ours(capture.final_url, final_stamp(capture))
        assert ours.status_code < 500, name
        if ours.status_code != 302:
            assert ours.headers["Content-Security-Policy"].startswith("sandbox;"), name
            assert ours.headers["X-Content-Type-Options"] == "nosniff", name


def test_hidden_captures_are_not_served(archive, fixture_site):
    """A private capture: 404 to others, served to its owner and to admins; the revisit
    whose payload a hidden capture holds is refused too. pywb (index synced) agrees."""
    settings, ctx = archive.settings, archive.ctx
    private, url = archive.captures["private"], archive.captures["private"].final_url
    stamp = final_stamp(private)
    assert archive.ours(url, stamp).status_code == 200
    owner = "owner@example.org"
    with transaction(ctx.sessions) as session:
        admin = service.add_user(session, "admin@example.org", "admin", "a long enough password 1")
        archivist = service.add_user(session, owner, "archivist", "a long enough password 2")
        _row, admin_token = service.create_token(session, admin, "test")
        _row, owner_token = service.create_token(session, archivist, "test")
        session.get(Capture, private.id).submitted_by = owner
        restrict(session, session.get(Capture, private.id), "private", "a test",
                 Viewer.of("admin", email="admin@example.org"))
    sync_replay(settings, ctx.sessions, ctx.writer.storage, private.id)
    try:
        refused = archive.ours(url, stamp)
        assert refused.status_code == 404 and b"that you may see" in refused.data
        assert archive.pywb(url, stamp).status_code == 404
        assert archive.ours(url, "20000101000000").status_code == 404     # not even a redirect
        for token in (admin_token, owner_token):
            shown = archive.ours(url, stamp, headers={"Authorization": f"Bearer {token}"})
            assert shown.status_code == 200 and shown.data == PLAIN_TEXT.encode("utf-8")
        # the original of two revisits taken down: they are refused with it
        article = archive.captures["article"]
        with transaction(ctx.sessions) as session:
            restrict(session, session.get(Capture, article.id), "taken_down", "a test",
                     Viewer.of("admin", email="admin@example.org"))
        revisit = archive.captures["revisit"]
        assert archive.ours(revisit.final_url, final_stamp(revisit)).status_code == 404
        assert archive.ours(revisit.final_url, final_stamp(revisit),
                            headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200
    finally:
        from archiver.accounts.restrictions import lift
        with transaction(ctx.sessions) as session:
            for capture in (private, archive.captures["article"]):
                lift(session, session.get(Capture, capture.id), "", Viewer.of("admin", email="a@b"))
        sync_replay(settings, ctx.sessions, ctx.writer.storage, private.id)
        sync_replay(settings, ctx.sessions, ctx.writer.storage, archive.captures["article"].id)


def test_the_role_table_guards_it(archive):
    """With ARCHIVER_ANONYMOUS_ROLE=none an anonymous visitor is sent to the login page."""
    settings = archive.settings.with_overrides(anonymous_role="none")
    client = create_app(settings).test_client()
    capture = archive.captures["article"]
    answer = client.get(f"/raw/{final_stamp(capture)}/{capture.final_url}")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/login")


def test_raw_replay_reads_sealed_files_from_s3(tmp_path, fixture_site, s3_server, monkeypatch):  # noqa: F811
    for name, value in s3_server.env.items():        # boto3 takes its credentials from these
        monkeypatch.setenv(name, value)
    bucket = s3_server.new_bucket()
    settings = settings_for(tmp_path / "data", fixture_site, ARCHIVER_STORAGE_URL=f"s3://{bucket}/warcs",
                            ARCHIVER_S3_ENDPOINT_URL=s3_server.endpoint)
    migrate(settings.database_url)
    ctx = build_context(settings)
    try:
        capture = capture_and_index(ctx, fixture_site.url("/image.png"))
        assert ctx.writer.seal() is not None
        assert any(k.startswith("warcs/") for k in s3_server.object_keys(bucket))
        assert not list(settings.open_warc_dir.glob("*.open"))
        capture = load(ctx, capture.id)
        assert capture.warc_file.state == "sealed"
        client = create_app(settings).test_client()
        raw = client.get(f"/raw/{final_stamp(capture)}/{capture.final_url}")
        assert raw.status_code == 200, raw.data[:300]
        assert raw.data == fixture_site.png and raw.headers["Content-Type"] == "image/png"
    finally:
        ctx.writer.close()


def test_the_lookup_on_sqlite_and_postgresql(database_url, tmp_path, fixture_site):
    """The catalogue queries (and migration 0011's index on record URLs) on both databases:
    a page, its requisite, a 301 hop and the revisit it ended at, without pywb."""
    settings = settings_for(tmp_path / "data", fixture_site, DATABASE_URL=database_url)
    with capture_contexts() as make:
        ctx = make(settings)
        article = capture_and_index(ctx, fixture_site.url("/article"))
        wait_for_next_second(article)
        redirect = capture_and_index(ctx, fixture_site.url("/redirect-to?status=301&url=/article"))
        app = create_app(settings)
        client = app.test_client()
        try:
            check_the_four(client, fixture_site, article, redirect)
        finally:
            services(app).sessions.kw["bind"].dispose()   # no pooled connection outlives the database


def check_the_four(client, fixture_site, article: Capture, redirect: Capture) -> None:
    """A page, its requisite, a 301 hop and the revisit it ended at."""
    page = client.get(f"/raw/{final_stamp(article)}/{article.final_url}")
    assert page.status_code == 200 and page.data == fixture_site.article
    image = client.get(f"/raw/{requisite_stamp(article)}/{fixture_site.url('/image.png')}")
    assert image.status_code == 200 and image.data == fixture_site.png
    hop = client.get(f"/raw/{first_stamp(redirect)}/{redirect.requested_url}")
    assert hop.status_code == 301 and hop.headers["Location"] == "/article"
    assert redirect.revisit_of == article.id
    revisit = client.get(f"/raw/{final_stamp(redirect)}/{redirect.final_url}")
    assert revisit.status_code == 200 and revisit.data == fixture_site.article
    assert revisit.headers["Memento-Datetime"] != page.headers["Memento-Datetime"]


def test_in_chromium_archived_script_never_runs_and_images_show(archive, fixture_site):
    """Opened top-level in a real browser from the app's origin: the hostile page's script
    is blocked by the sandbox, and an archived image is still displayed."""
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
    if not CHROMIUM.exists():
        service_missing(f"Chromium at {CHROMIUM}", "not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, create_app(archive.settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    hostile, image = archive.captures["hostile"], archive.captures["image"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                 args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                console: list[str] = []
                page.on("console", lambda message: console.append(message.text))
                page.goto(f"{base}/raw/{final_stamp(hostile)}/{hostile.final_url}")
                assert page.title() != "ran"
                assert any("sandboxed" in line and "allow-scripts" in line for line in console), console
                assert not [c for c in page.context.cookies() if c["value"] == "planted"]
                page.goto(f"{base}/raw/{final_stamp(image)}/{image.final_url}")
                assert page.evaluate("document.images.length && document.images[0].naturalWidth") == 16
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_missing_warc_file_is_a_clear_server_error(make_ctx, fixture_site):
    ctx = make_ctx()
    capture = capture_and_index(ctx, fixture_site.url("/plain.txt"))
    assert ctx.writer.seal() is not None
    capture = load(ctx, capture.id)
    ctx.writer.storage.delete(capture.warc_file.storage_key)       # lost behind the catalogue's back
    answer = create_app(ctx.settings).test_client().get(f"/raw/{final_stamp(capture)}/{capture.final_url}")
    assert answer.status_code == 500
    assert b"cannot be read" in answer.data and b"archiver audit" in answer.data


def open_warc_files() -> list[str]:
    """The WARC files this process has open now (the capture writer keeps its `.open` one)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if ".warc.gz" in target:
            found.append(target)
    return sorted(found)


def test_large_records_are_streamed_with_the_same_answer(archive):
    """With ARCHIVER_RAW_STREAM_BYTES=0 every record is streamed from its file instead of read
    whole: the same status, headers and bytes (decoded, dechunked, from a revisit's original),
    and every WARC file it opened is closed again."""
    streaming = create_app(archive.settings.with_overrides(raw_stream_bytes=0)).test_client()
    cases = [(archive.captures[n].final_url, final_stamp(archive.captures[n]))
             for n in ("article", "image", "gzip", "chunked", "revisit", "changing2")]
    cases.append((archive.captures["redirect"].requested_url, first_stamp(archive.captures["redirect"])))
    before = open_warc_files()
    for url, stamp in cases:
        for accept in ("gzip", "identity"):
            whole = archive.ours(url, stamp, headers={"Accept-Encoding": accept})
            streamed = streaming.get(f"/raw/{stamp}/{url}", headers={"Accept-Encoding": accept})
            assert streamed.status == whole.status and streamed.get_data() == whole.data, url
            # the whole one knows its length even when the archived headers do not say it
            assert [h for h in streamed.headers.items() if h[0] != "Content-Length"] == \
                [h for h in whole.headers.items() if h[0] != "Content-Length"], url
            streamed.close()
            assert open_warc_files() == before, url
    head = streaming.head(f"/raw/{cases[0][1]}/{cases[0][0]}")       # opened, never read
    assert head.status_code == 200 and head.get_data() == b""
    head.close()
    assert open_warc_files() == before

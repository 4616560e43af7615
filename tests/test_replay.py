"""Replay through pywb on its own origin, with Memento: captures from the fixture site, the
index kept at capture time, `archiver replay` started for real on a loopback port."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archiver.capture import run_capture
from archiver.config import ConfigError
from archiver.db import migrate
from archiver.models import Capture
from archiver.replay import capture_timestamp, rebuild_index, replay_url
from archiver.replay import index as replay_index
from archiver.replay.memento import MementoMiddleware, format_links, navigation, parse_links
from archiver.replay.paths import ReplayPaths
from archiver.submissions import Submitter, submit_captures
from tests.conftest import make_settings
from tests.replay_server import free_port, replay_server, require_replay
from workers.context import build_context

TIMEOUT = 30


@dataclass
class Archive:
    settings: object
    ctx: object
    base: str
    article: Capture
    first: Capture           # /changing, in a sealed file
    second: Capture          # /changing again, a later second, in the `.open` file

    def web(self, path: str) -> str:
        return f"{self.base}/web/{path}"


def capture_and_index(ctx, url: str) -> Capture:
    """Capture without a broker; the pipeline adds the capture to the replay index itself."""
    [submitted] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "tester"), lambda _id: None)
    run_capture(ctx, submitted.id, task_id="test")
    row = load(ctx, submitted.id)
    assert row.state == "stored", row.error
    return row


def load(ctx, capture_id: int) -> Capture:
    with ctx.sessions() as session:
        return session.scalars(select(Capture).where(Capture.id == capture_id).options(
            selectinload(Capture.records), selectinload(Capture.warc_file))).one()


def wait_for_next_second(after: Capture) -> None:
    """Two captures in one second share a 14-digit timestamp (NOTES.md): step past it."""
    stamp = capture_timestamp(after)
    while datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S") <= stamp:
        time.sleep(0.05)


def settings_for(data_dir: Path, fixture_site, **env):
    data_dir.mkdir(parents=True, exist_ok=True)
    return make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=fixture_site.allow,
                         ARCHIVER_REPLAY_PORT=free_port(), ARCHIVER_TOTAL_DEADLINE=20,
                         ARCHIVER_READ_TIMEOUT=5, ARCHIVER_CONNECT_TIMEOUT=3, **env)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, fixture_site):
    require_replay()
    data_dir = tmp_path_factory.mktemp("replay") / "data"
    data_dir.mkdir()
    settings = settings_for(data_dir, fixture_site)
    migrate(settings.database_url)
    ctx = build_context(settings)
    try:
        article = capture_and_index(ctx, fixture_site.url("/article"))
        first = capture_and_index(ctx, fixture_site.url("/changing"))
        assert ctx.writer.seal() is not None          # these two are now in storage
        wait_for_next_second(first)
        second = capture_and_index(ctx, fixture_site.url("/changing"))
        assert (settings.open_warc_dir / f"{second.warc_file.filename}.open").exists()
        with replay_server(settings) as base:
            yield Archive(settings, ctx, base, article, first, second)
    finally:
        ctx.writer.close()


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


def links_of(response) -> dict[str, list[str]]:
    """rel -> the URIs linked with it (each rel of a combined value such as "first memento")."""
    found: dict[str, list[str]] = {}
    for uri, params in parse_links(response.headers.get("Link", "")):
        for rel in dict(params).get("rel", "").split():
            found.setdefault(rel, []).append(uri)
    return found


def served(capture: Capture) -> str:
    """What tells captures of /changing apart: "served N times" (N counts the site's requests)."""
    found = re.search(r"served [0-9]+ times", capture.text or "")
    assert found, capture.text
    return found.group(0)


def memento_of(archive: Archive, capture: Capture) -> str:
    return replay_url(archive.settings, capture.final_url, capture_timestamp(capture))


# --- replay --------------------------------------------------------------------------

def test_latest_and_closest_capture(archive, fixture_site):
    url = fixture_site.url("/changing")
    first_ts, second_ts = capture_timestamp(archive.first), capture_timestamp(archive.second)
    assert first_ts < second_ts

    latest = get(archive.web(url))                     # /web/<url>: the latest capture
    assert latest.status_code == 200
    assert [r.status_code for r in latest.history] == [302]
    assert latest.url == memento_of(archive, archive.second)
    assert served(archive.second) in latest.text

    exact = get(archive.web(f"{first_ts}/{url}"))
    assert exact.status_code == 200 and not exact.history
    assert served(archive.first) in exact.text and served(archive.second) not in exact.text

    # a timestamp between captures or before all of them: redirected to the closest
    before = get(archive.web(f"20000101000000/{url}"), allow_redirects=False)
    assert before.status_code == 302
    assert before.headers["Location"] == memento_of(archive, archive.first)


def test_raw_mode_returns_the_archived_bytes(archive, fixture_site):
    stamp = capture_timestamp(archive.article)
    raw = get(archive.web(f"{stamp}id_/{fixture_site.url('/article')}"))
    assert raw.status_code == 200
    assert raw.content == fixture_site.article
    assert hashlib.sha256(raw.content).hexdigest() == archive.article.payload_sha256
    assert raw.headers["Content-Type"].startswith("text/html")
    assert raw.headers["Memento-Datetime"]
    # the page mode rewrites the same page for a browser
    page = get(archive.web(f"{stamp}/{fixture_site.url('/article')}"))
    assert "Fixture headline" in page.text and page.content != fixture_site.article


def test_a_changing_page_replays_each_capture_at_its_own_timestamp(archive, fixture_site):
    url = fixture_site.url("/changing")
    bodies = []
    for capture in (archive.first, archive.second):
        raw = get(replay_url(archive.settings, url, capture_timestamp(capture), raw=True))
        assert raw.status_code == 200
        assert hashlib.sha256(raw.content).hexdigest() == capture.payload_sha256
        assert served(capture).encode() in raw.content
        bodies.append(raw.content)
    assert bodies[0] != bodies[1]


def test_a_just_stored_capture_replays_while_its_file_is_open_and_after_sealing(archive, fixture_site):
    """Captured after replay started: no restart, no reindex, the file still `.open`; and
    looked up right after a lookup that found nothing (pywb's cached folder listing, kept for
    a second, missed that)."""
    url = fixture_site.url("/plain.txt")
    assert get(archive.web(url), allow_redirects=False).status_code == 404   # not captured yet
    [submitted] = submit_captures(archive.ctx.sessions, [url], None, Submitter("cli", "tester"),
                                  lambda _id: None)
    run_capture(archive.ctx, submitted.id)                 # stores and indexes
    capture = load(archive.ctx, submitted.id)
    address = replay_url(archive.settings, url, capture_timestamp(capture), raw=True)
    open_file = archive.settings.open_warc_dir / f"{capture.warc_file.filename}.open"
    assert open_file.exists()
    raw = get(address)
    assert raw.status_code == 200, raw.text[:300]
    assert hashlib.sha256(raw.content).hexdigest() == capture.payload_sha256
    assert archive.ctx.writer.seal() is not None
    assert not open_file.exists()
    again = get(address)                      # now read from storage
    assert again.status_code == 200 and again.content == raw.content


# --- Memento ---------------------------------------------------------------------------

def test_timegate_negotiates_accept_datetime_with_a_302(archive, fixture_site):
    url = fixture_site.url("/changing")
    first_moment = datetime.strptime(capture_timestamp(archive.first), "%Y%m%d%H%M%S")
    answer = requests.head(archive.web(url), timeout=TIMEOUT, allow_redirects=False,
                           headers={"Accept-Datetime": first_moment.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    assert answer.status_code == 302
    assert answer.headers["Location"] == memento_of(archive, archive.first)
    assert "accept-datetime" in answer.headers["Vary"].lower()
    links = links_of(answer)
    assert links["original"] == [url]
    assert links["timemap"] == [f"{archive.base}/web/timemap/link/{url}"]
    assert links["first"] == [memento_of(archive, archive.first)]
    assert links["last"] == [memento_of(archive, archive.second)]
    # without Accept-Datetime: the latest
    latest = get(archive.web(url), allow_redirects=False)
    assert latest.status_code == 302 and latest.headers["Location"] == memento_of(archive, archive.second)


def test_every_memento_carries_memento_datetime_and_navigation_links(archive, fixture_site):
    url = fixture_site.url("/changing")
    first, second = memento_of(archive, archive.first), memento_of(archive, archive.second)
    answer = get(first)
    moment = datetime.strptime(capture_timestamp(archive.first), "%Y%m%d%H%M%S")
    assert answer.headers["Memento-Datetime"] == moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    links = links_of(answer)
    assert links["original"] == [url]
    assert links["timegate"] == [archive.web(url)]
    assert links["timemap"] == [f"{archive.base}/web/timemap/link/{url}"]
    assert links["first"] == [first] and links["next"] == [second] and links["last"] == [second]
    assert sorted(links["memento"]) == sorted([first, second])    # itself, and the others as mementos
    assert "prev" not in links
    dated = {uri: dict(params) for uri, params in parse_links(answer.headers["Link"])}
    assert dated[second]["datetime"].endswith("GMT")

    links = links_of(get(second))
    assert links["prev"] == [first] and links["first"] == [first] and links["last"] == [second]
    assert "next" not in links
    # raw mode is a memento too
    raw = get(replay_url(archive.settings, url, capture_timestamp(archive.second), raw=True))
    assert raw.headers["Memento-Datetime"] and links_of(raw)["prev"] == [first]
    # opened top-level, an archived page is as sandboxed as in the app's iframe
    for response in (answer, raw):
        assert "sandbox allow-scripts" in response.headers["Content-Security-Policy"]
        # requests stay on the replay origin: pywb's policy on the page, ours on raw
        assert re.search(r"default-src [^;,]*'self'", response.headers["Content-Security-Policy"])
    # a page with a single capture is its own first and last
    single = links_of(get(memento_of(archive, archive.article)))
    assert single["first"] == single["last"] == [memento_of(archive, archive.article)]


def test_timemaps_in_link_format_and_json(archive, fixture_site):
    url = fixture_site.url("/changing")
    first, second = memento_of(archive, archive.first), memento_of(archive, archive.second)
    link = get(f"{archive.base}/web/timemap/link/{url}")
    assert link.status_code == 200
    assert link.headers["Content-Type"].startswith("application/link-format")
    entries = parse_links(link.text.replace("\n", " "))
    mementos = [uri for uri, params in entries if "memento" in dict(params).get("rel", "").split()]
    assert mementos == [first, second]

    answer = get(f"{archive.base}/web/timemap/json/{url}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    timemap = answer.json()
    assert timemap["original_uri"] == url
    assert timemap["timegate_uri"] == archive.web(url)
    assert [m["uri"] for m in timemap["mementos"]["list"]] == [first, second]
    assert timemap["mementos"]["first"]["uri"] == first and timemap["mementos"]["last"]["uri"] == second
    assert timemap["mementos"]["list"][0]["datetime"].endswith("Z")
    missing = get(f"{archive.base}/web/timemap/json/{fixture_site.url('/never-captured')}")
    assert missing.status_code == 404 and missing.json()["mementos"]["list"] == []


def test_memento_client_finds_the_mementos_through_the_timegate(archive, fixture_site):
    try:
        from memento_client import MementoClient
    except ImportError:
        message = "memento-client is not installed in .venv (pyproject's test extras)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    url = fixture_site.url("/changing")
    moment = datetime.strptime(capture_timestamp(archive.first), "%Y%m%d%H%M%S")
    with requests.Session() as session:
        client = MementoClient(timegate_uri=f"{archive.base}/web/", check_native_timegate=False,
                               session=session)
        info = client.get_memento_info(url, moment)
    mementos = info["mementos"]
    assert mementos["closest"]["uri"] == [memento_of(archive, archive.first)]
    assert mementos["closest"]["datetime"] == moment
    assert mementos["closest"]["http_status_code"] == 200
    assert mementos["first"]["uri"] == [memento_of(archive, archive.first)]
    assert mementos["last"]["uri"] == [memento_of(archive, archive.second)]
    assert mementos["next"]["uri"] == [memento_of(archive, archive.second)]


def test_a_url_with_a_query_string_gets_its_links_and_timemaps(archive, fixture_site):
    url = fixture_site.url("/article?edition=2&lang=en")
    capture = capture_and_index(archive.ctx, url)
    memento = memento_of(archive, capture)
    answer = get(memento)
    assert answer.status_code == 200 and "Fixture headline" in answer.text
    links = links_of(answer)
    assert links["original"] == [url] and links["first"] == links["last"] == [memento]
    timemap = get(f"{archive.base}/web/timemap/json/{url}").json()
    assert [m["uri"] for m in timemap["mementos"]["list"]] == [memento]
    assert get(archive.web(url), allow_redirects=False).headers["Location"] == memento


def test_reindex_rebuilds_the_same_index_from_the_catalogue(archive, fixture_site):
    paths = ReplayPaths.of(archive.settings)
    before = replay_index.lookup(archive.settings, "")
    assert any("/changing" in line for line in before)
    assert not any('"mime": "text/plain"' in line and "/article" in line for line in before)  # no conversion
    for path in replay_index.index_files(archive.settings):
        path.unlink()
    assert get(archive.web(fixture_site.url("/changing")), allow_redirects=False).status_code == 404
    written = rebuild_index(archive.settings, archive.ctx.sessions, archive.ctx.writer.storage)
    assert written == len(before)
    assert replay_index.lookup(archive.settings, "") == before
    assert [p.name.split("-")[0] for p in replay_index.index_files(archive.settings)] == ["base"]
    assert paths.warc_paths.read_text().count("\n") >= 2
    assert get(archive.web(fixture_site.url("/changing"))).status_code == 200


# --- the app shows replay from the other origin ---------------------------------------

def test_capture_page_frames_replay_from_the_other_origin_sandboxed(archive):
    from archiver.web import create_app

    app = create_app(archive.settings)
    response = app.test_client().get(f"/captures/{archive.first.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    memento = memento_of(archive, archive.first)
    assert f'src="{memento}"' in page
    assert 'sandbox="allow-scripts"' in page and "allow-same-origin" not in page
    raw = replay_url(archive.settings, archive.first.final_url, capture_timestamp(archive.first), raw=True)
    assert f'href="{raw}"' in page
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-src {archive.base};" in csp and "frame-ancestors 'none'" in csp
    assert archive.base != f"http://{archive.settings.host}:{archive.settings.port}"


# --- without pywb: index, middleware, settings ------------------------------------------

def test_index_levels_merge_and_stay_sorted(tmp_path):
    settings = make_settings(tmp_path / "data")
    lines = [f"com,example)/p{n:03d} 2026010100{n % 60:02d}00 {{\"n\": {n}}}" for n in range(40)]
    for n, line in enumerate(lines):
        replay_index.add_lines(settings, [f"w{n % 3}.warc.gz"], [line])
    names = sorted(p.name.split("-")[0] for p in replay_index.index_files(settings))
    # 40 files: two merges of 16 into level 1, 8 left at level 0
    assert names == ["L0"] * 8 + ["L1"] * 2
    for path in replay_index.index_files(settings):
        content = path.read_text().splitlines()
        assert content == sorted(content)
    assert replay_index.lookup(settings, "") == sorted(lines)
    paths = ReplayPaths.of(settings)
    assert [line.split("\t")[0] for line in paths.warc_paths.read_text().splitlines()] == \
        ["w0.warc.gz", "w1.warc.gz", "w2.warc.gz"]
    assert paths.warc_paths.read_text().splitlines()[0].endswith("/open/w0.warc.gz.open")


def _add_many(data_dir: str, worker: int) -> None:
    settings = make_settings(Path(data_dir))
    for n in range(25):
        replay_index.add_lines(settings, [f"w{worker}.warc.gz"],
                               [f"com,example)/w{worker}/{n:03d} 20260101000000 {{}}"])


def test_several_processes_add_to_the_index_at_once(tmp_path):
    data_dir = tmp_path / "data"
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_add_many, args=(str(data_dir), w)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    settings = make_settings(data_dir)
    found = replay_index.lookup(settings, "")
    assert len(found) == 100
    assert len(ReplayPaths.of(settings).warc_paths.read_text().splitlines()) == 4
    for path in replay_index.index_files(settings):
        content = path.read_text().splitlines()
        assert content == sorted(content)


def test_cdxj_lines_point_at_the_catalogued_offsets(tmp_path, fixture_site):
    settings = settings_for(tmp_path / "data", fixture_site)
    migrate(settings.database_url)
    ctx = build_context(settings)
    try:
        [submitted] = submit_captures(ctx.sessions, [fixture_site.url("/article")], None,
                                      Submitter("cli", "tester"), lambda _id: None)
        run_capture(ctx, submitted.id)
        row = load(ctx, submitted.id)
        lines = replay_index.capture_lines(settings, ctx.writer.storage, row.warc_file.filename, row.records)
    finally:
        ctx.writer.close()
    by_offset = {r.offset: r for r in row.records}
    kinds = []
    for line in lines:
        block = json.loads(line.split(" ", 2)[2])
        record = by_offset[int(block["offset"])]
        assert int(block["length"]) == record.length
        assert block["filename"] == row.warc_file.filename
        kinds.append((record.record_type, record.requisite))
    # the response and the two metadata records; never the conversion record or the request;
    # and the responses of the page's stylesheet and image (its requisites)
    assert sorted(kinds) == [("metadata", False), ("metadata", False), ("response", False),
                             ("response", True), ("response", True)]


def _fake_pywb(captures: dict[str, list[str]]):
    """A WSGI app answering like pywb 2.10: 307 TimeGate, mementos, NDJSON timemap."""
    def app(environ, start_response):
        path = environ["PATH_INFO"]
        host = "http://replay.test"
        if path.startswith("/web/timemap/json/"):
            url = path[len("/web/timemap/json/"):]
            lines = [json.dumps({"timestamp": ts, "url": url}) for ts in captures.get(url, [])]
            start_response("200 OK", [("Content-Type", "text/x-ndjson")])
            return ["\n".join(lines).encode()]
        stamp, _, url = path[len("/web/"):].partition("/")
        common = (f'<{url}>; rel="original", <{host}/web/{url}>; rel="timegate", '
                  f'<{host}/web/timemap/link/{url}>; rel="timemap"; type="application/link-format"')
        if stamp == "archived-redirect":
            start_response("307 Temporary Redirect", [("Location", "/elsewhere"),
                                                      ("Memento-Datetime", "Thu, 01 Jan 2026 00:00:01 GMT"),
                                                      ("Link", common)])
            return [b""]
        if not stamp.isdigit():                     # the TimeGate
            url = path[len("/web/"):]
            ts = captures[url][-1]
            common = (f'<{url}>; rel="original", <{host}/web/{url}>; rel="timegate", '
                      f'<{host}/web/timemap/link/{url}>; rel="timemap"; type="application/link-format"')
            start_response("307 Temporary Redirect", [
                ("Location", f"{host}/web/{ts}/{url}"), ("Vary", "accept-datetime"),
                ("Link", common + f', <{host}/web/{ts}/{url}>; rel="memento"; '
                                  'datetime="Thu, 01 Jan 2026 00:00:02 GMT"')])
            return [b""]
        start_response("200 OK", [("Memento-Datetime", "Thu, 01 Jan 2026 00:00:01 GMT"),
                                  ("Link", common + f', <{host}/web/{stamp}/{url}>; rel="memento"; '
                                                    'datetime="Thu, 01 Jan 2026 00:00:01 GMT"')])
        return [b"page"]
    return app


def _call(app, path, method="GET"):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": method, "HTTP_HOST": "replay.test",
                         "wsgi.url_scheme": "http", "QUERY_STRING": ""}, start_response))
    return seen["status"], seen["headers"], body


def test_middleware_turns_pywb_307_timegate_into_302_and_adds_navigation():
    url = "http://site.test/a"
    app = MementoMiddleware(_fake_pywb({url: ["20260101000001", "20260101000002", "20260101000003"]}))
    status, headers, _ = _call(app, f"/web/{url}")
    assert status == "302 Found"
    rels = {rel: uri for uri, params in parse_links(headers["Link"])
            for rel in dict(params)["rel"].split()}
    assert rels["first"].endswith("/20260101000001/" + url)
    assert rels["prev"].endswith("/20260101000001/" + url)
    assert rels["last"].endswith("/20260101000003/" + url)
    status, headers, body = _call(app, f"/web/20260101000001/{url}")
    assert status == "200 OK" and body == b"page"
    rels = {rel for _uri, params in parse_links(headers["Link"]) for rel in dict(params)["rel"].split()}
    assert {"original", "timegate", "timemap", "memento", "first", "next", "last"} <= rels
    assert "prev" not in rels
    # an archived redirect keeps its archived status
    status, _headers, _ = _call(app, f"/web/archived-redirect/{url}")
    assert status.startswith("307")


def test_link_helpers():
    value = '<http://a/x,y>; rel="first memento"; datetime="Thu, 01 Jan 2026 00:00:01 GMT", <http://b>; rel=original'
    links = parse_links(value)
    assert links[0][0] == "http://a/x,y" and dict(links[0][1])["rel"] == "first memento"
    assert links[1] == ("http://b", [("rel", "original")])
    assert parse_links(format_links(links)) == links
    assert navigation(["1", "2", "3"], "2") == {"first": "1", "last": "3", "prev": "1", "next": "3"}
    assert navigation(["1", "2"], "1") == {"first": "1", "last": "2", "next": "2"}
    assert navigation([], "1") == {}


@pytest.mark.parametrize("env, message", [
    ({"ARCHIVER_REPLAY_PORT": "0"}, "between 1 and 65535"),
    ({"ARCHIVER_REPLAY_PORT": "x"}, "whole number"),
    ({"ARCHIVER_REPLAY_HOST": "http://x/"}, "ARCHIVER_REPLAY_HOST"),
    ({"ARCHIVER_PORT": "8001"}, "separate origin"),
])
def test_replay_settings_are_validated(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        make_settings(tmp_path, **env)
    settings = make_settings(tmp_path)
    assert (settings.replay_host, settings.replay_port) == ("127.0.0.1", 8001)


def test_missing_pywb_skips_on_a_laptop_fails_in_ci_and_replay_says_make_pywb(monkeypatch, tmp_path, capsys):
    import archiver.replay.server as server
    from archiver.cli import main

    monkeypatch.setattr(server, "PYWB_VENV", tmp_path / "no-venv")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="make pywb"):
        require_replay()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make pywb"):
        require_replay()
    monkeypatch.setenv("ARCHIVER_DATA_DIR", str(tmp_path / "data"))
    assert main(["replay"]) == 2
    assert "make pywb" in capsys.readouterr().err


def test_archiver_reindex_command(monkeypatch, tmp_path, capsys):
    from archiver.cli import main

    settings = make_settings(tmp_path / "data")
    settings.data_dir.mkdir()
    migrate(settings.database_url)
    replay_index.add_lines(settings, ["old.warc.gz"], ["com,example)/ 20260101000000 {}"])
    monkeypatch.setenv("ARCHIVER_DATA_DIR", str(settings.data_dir))
    assert main(["reindex"]) == 0
    assert "0 lines" in capsys.readouterr().out
    assert replay_index.lookup(settings, "") == []       # nothing in the catalogue: nothing left


def test_every_memento_links_to_its_provenance_and_verification(archive, fixture_site):
    """rel="describedby" on the memento, pointing at the app; following it through the app
    reaches this capture's provenance and its verification."""
    from urllib.parse import urlsplit
    from archiver.web import create_app
    client = create_app(archive.settings).test_client()
    for capture, raw in ((archive.first, False), (archive.second, True), (archive.article, False)):
        answer = get(replay_url(archive.settings, capture.final_url, capture_timestamp(capture), raw=raw))
        described = {dict(params)["title"]: uri for uri, params in parse_links(answer.headers["Link"])
                     if dict(params).get("rel") == "describedby"}
        assert set(described) == {"provenance", "verification"}, answer.headers["Link"]
        assert all(uri.startswith(archive.settings.public_url + "/api/v1/") for uri in described.values())
        target = urlsplit(described["provenance"])
        hop = client.get(f"{target.path}?{target.query}")
        assert hop.status_code == 302 and hop.headers["Location"].endswith(f"/captures/{capture.id}/provenance")
        target = urlsplit(described["verification"])
        verified = client.get(f"{target.path}?{target.query}", follow_redirects=True).get_json()
        assert verified["capture_id"] == capture.id and verified["ok"], verified

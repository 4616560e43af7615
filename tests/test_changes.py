"""Unchanged, text unchanged, changed: revisit records, markings stored at capture time,
webhooks signed and retried, Atom feeds. Captures from the fixture site (/changes/...),
webhooks to a receiver on 127.0.0.1, replay by the real pywb."""
from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest
import requests
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from archiver.capture import run_capture
from archiver.db import transaction
from archiver.models import Capture, WebhookDelivery
from archiver.replay import capture_timestamp, replay_url, timemap_url
from archiver.submissions import Submitter, store_captures, submit_captures
from archiver.warc import verify_warc_file
from archiver.watches.service import create_watch
from archiver.web import create_app, services
from archiver.webhooks import HEADER, deliver, verify
from tests.conftest import capture_contexts, make_settings
from tests.pywb_replay import pywb_replay, require_pywb
from tests.replay_server import free_port, replay_server
from tests.webhook_receiver import WebhookReceiver

TIMEOUT = 30
UNCHANGED_BUDGET = 2048      # bytes of WARC an unchanged recapture may cost


@pytest.fixture
def receiver():
    with WebhookReceiver() as hook:
        yield hook


def settings_for(data_dir: Path, fixture_site, *allow: str, **env):
    return make_settings(data_dir, ARCHIVER_ALLOW_PRIVATE=",".join([fixture_site.allow, *allow]),
                         ARCHIVER_REPLAY_PORT=free_port(), ARCHIVER_TOTAL_DEADLINE=20,
                         ARCHIVER_READ_TIMEOUT=5, ARCHIVER_CONNECT_TIMEOUT=3,
                         ARCHIVER_WEBHOOK_BACKOFF=0.5, ARCHIVER_WEBHOOK_TIMEOUT=5, **env)


@pytest.fixture
def make_ctx(data_dir, fixture_site, database_url):
    """Contexts on SQLite and on PostgreSQL (conftest's `database_url`)."""
    with capture_contexts() as make:
        yield lambda *allow, **env: make(settings_for(data_dir, fixture_site, *allow,
                                                      DATABASE_URL=database_url, **env))


@pytest.fixture
def make_client():
    apps = []

    def make(settings):
        apps.append(create_app(settings))
        return apps[-1].test_client()

    yield make
    for app in apps:
        services(app).sessions.kw["bind"].dispose()


def capture(ctx, url: str, watch_id: int | None = None) -> Capture:
    if watch_id is None:
        [row] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "tester"), lambda _id: None)
    else:
        with transaction(ctx.sessions) as session:
            [row] = store_captures(session, [url], None, Submitter("schedule", "watch"), watch_id=watch_id)
    run_capture(ctx, row.id, task_id="test")
    return load(ctx, row.id)


def load(ctx, capture_id: int) -> Capture:
    with ctx.sessions() as session:
        row = session.get(Capture, capture_id)
        _ = row.warc_file, [r.warc_file for r in row.records]
        return row


def records_of(ctx, row: Capture):
    """(location, warcio record, block bytes after the HTTP headers) for each of its records."""
    path = ctx.settings.open_warc_dir / f"{row.warc_file.filename}.open"
    if not path.exists():
        path = ctx.settings.warc_dir / row.warc_file.filename
    found = []
    with open(path, "rb") as handle:
        for loc in row.records:
            handle.seek(loc.offset)
            [(record, rest)] = [(r, r.raw_stream.read())
                                for r in ArchiveIterator(io.BytesIO(handle.read(loc.length)))]
            found.append((loc, record, rest))
    return found


def wait_for_next_second(after: Capture) -> None:
    """Two captures in one second share a 14-digit timestamp (NOTES.md): step past it."""
    stamp = capture_timestamp(after)
    while datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S") <= stamp:
        time.sleep(0.05)


def make_watch(ctx, url: str, webhook_url: str | None = None):
    with transaction(ctx.sessions) as session:
        fields = {"url": url, "cron": "0 * * * *"}
        if webhook_url:
            fields["webhook_url"] = webhook_url
        watch = create_watch(session, fields)
        return watch.id, watch.webhook_secret


# --- unchanged: a revisit record -------------------------------------------------------

def test_an_unchanged_recapture_is_a_revisit_of_under_2_kb(make_ctx, fixture_site, tmp_path):
    ctx = make_ctx()
    url = fixture_site.url("/changes/stable")
    first = capture(ctx, url)
    second = capture(ctx, url)
    assert (first.change, first.previous_id, first.revisit_of) == ("first", None, None)
    assert (second.change, second.previous_id, second.revisit_of) == ("unchanged", first.id, first.id)
    assert second.payload_sha256 == first.payload_sha256 and second.text == first.text

    [original] = [r for loc, r, _ in records_of(ctx, first) if loc.record_type == "response"]
    found = records_of(ctx, second)
    assert [loc.record_type for loc, _, _ in found] == ["revisit", "request", "metadata"]
    assert sum(loc.length for loc, _, _ in found) < UNCHANGED_BUDGET      # no copy of the body or text
    loc, revisit, rest = found[0]
    headers = revisit.rec_headers
    assert headers["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert headers["WARC-Refers-To"] == original.rec_headers["WARC-Record-ID"] == loc.refers_to
    assert headers["WARC-Refers-To-Target-URI"] == original.rec_headers["WARC-Target-URI"] == url
    assert headers["WARC-Refers-To-Date"] == original.rec_headers["WARC-Date"]
    assert headers["WARC-Payload-Digest"] == original.rec_headers["WARC-Payload-Digest"]
    assert headers["WARC-Date"] > original.rec_headers["WARC-Date"]
    assert revisit.http_headers.get_statuscode() == "200" and rest == b""     # headers only
    provenance = json.loads(found[2][2])
    assert provenance["change"] == {"marking": "unchanged", "previous_id": first.id,
                                    "revisit_of": first.id}

    ctx.writer.close()
    sealed = ctx.settings.warc_dir / second.warc_file.filename
    report = verify_warc_file(sealed)        # revisit block digest checked too
    assert report.ok, report.problems
    data = sealed.read_bytes()
    member = data[loc.offset:loc.offset + loc.length]
    tampered = gzip.compress(gzip.decompress(member).replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 200 Ok"))
    altered = tmp_path / "altered.warc.gz"
    altered.write_bytes(data[:loc.offset] + tampered + data[loc.offset + loc.length:])
    assert any("block digest does not match" in p for p in verify_warc_file(altered).problems)
    # warcio's own checker and cdxj-indexer read the file
    check = subprocess.run([Path(sys.executable).parent / "warcio", "check", "-v", str(sealed)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    index = subprocess.run([Path(sys.executable).parent / "cdxj-indexer", str(sealed)],
                           capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line.split(" ", 2)[2]) | {"ts": line.split(" ")[1]}
             for line in index.splitlines()]
    lines = [line for line in lines if line["url"] == url]      # not the urn:archiver:... ones
    by_mime = {line["mime"]: line for line in lines}
    assert set(by_mime) == {"text/html", "warc/revisit"}
    assert by_mime["warc/revisit"]["digest"] == by_mime["text/html"]["digest"]
    assert by_mime["warc/revisit"]["ts"] == capture_timestamp(second)      # its own time
    assert by_mime["text/html"]["ts"] == capture_timestamp(first)


def test_an_unchanged_page_with_requisites_fetches_none_again_and_stays_under_2_kb(make_ctx, fixture_site):
    """The article brings a stylesheet and an image. Its unchanged recapture is the page's
    revisit alone: the requisites are not fetched again (replay takes the earlier ones)."""
    ctx = make_ctx()
    url = fixture_site.url("/article")
    first = capture(ctx, url)
    assert {r.target_uri for r in first.records if r.requisite} >= {fixture_site.url("/static/site.css"),
                                                                    fixture_site.url("/image.png")}
    requisite_requests = sum(1 for p in fixture_site.requests if p in ("/static/site.css", "/image.png"))
    second = capture(ctx, url)
    assert (second.change, second.revisit_of) == ("unchanged", first.id)
    assert sum(1 for p in fixture_site.requests if p in ("/static/site.css", "/image.png")) == requisite_requests
    assert not any(r.requisite for r in second.records)
    assert second.requisites == {"not_fetched": "page unchanged", "see_capture": first.id}
    assert sum(r.length for r in second.records) < UNCHANGED_BUDGET


def test_a_revisit_replays_at_its_own_time_with_the_original_body(make_ctx, fixture_site):
    ctx = make_ctx()
    url = fixture_site.url("/changes/stable")
    first = capture(ctx, url)
    assert ctx.writer.seal() is not None            # the original is in storage, sealed
    wait_for_next_second(first)
    second = capture(ctx, url)                      # the revisit, in the `.open` file
    assert second.revisit_of == first.id
    body = requests.get(url, timeout=TIMEOUT).content
    with replay_server(ctx.settings) as base:
        stamp = capture_timestamp(second)
        raw = requests.get(replay_url(ctx.settings, url, stamp, raw=True), timeout=TIMEOUT)
        assert raw.status_code == 200, raw.text[:300]
        assert raw.content == body
        assert hashlib.sha256(raw.content).hexdigest() == second.payload_sha256
        moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        assert raw.headers["Memento-Datetime"] == moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
        page = requests.get(replay_url(ctx.settings, url, stamp), timeout=TIMEOUT)
        assert page.status_code == 200 and "Harbour wall repaired" in page.text and not page.history
        # the TimeGate's latest is the revisit; both TimeMaps list it at its own time
        latest = requests.get(f"{base}/web/{url}", timeout=TIMEOUT)
        assert latest.url == replay_url(ctx.settings, url, stamp)
        link_map = requests.get(timemap_url(ctx.settings, url), timeout=TIMEOUT).text
        assert f"/web/{capture_timestamp(first)}/{url}>" in link_map
        assert f"/web/{stamp}/{url}>" in link_map
        mementos = requests.get(timemap_url(ctx.settings, url, "json"), timeout=TIMEOUT).json()
        listed = [m["uri"] for m in mementos["mementos"]["list"]]
        assert listed == [replay_url(ctx.settings, url, capture_timestamp(first)),
                          replay_url(ctx.settings, url, stamp)]


def test_a_revisit_exported_alone_as_wacz_holds_and_replays_its_original(
        make_ctx, make_client, fixture_site, tmp_path):
    require_pywb()
    ctx = make_ctx()
    url = fixture_site.url("/changes/stable")
    first = capture(ctx, url)
    wait_for_next_second(first)
    second = capture(ctx, url)
    response = make_client(ctx.settings).get(f"/api/v1/captures/{second.id}/wacz")
    try:
        assert response.status_code == 200
        package = tmp_path / "revisit.wacz"
        package.write_bytes(response.data)
    finally:
        response.close()
    check = subprocess.run([Path(sys.executable).with_name("wacz"), "validate", "-f", str(package)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(package) as zf:
        zf.extractall(unpacked)
        [page] = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()[1:]]
    with open(unpacked / f"archive/capture-{second.id}.warc.gz", "rb") as warc:
        types = [r.rec_type for r in ArchiveIterator(warc)]
    assert types == ["response", "revisit", "request", "metadata"]       # the original first
    stamp = capture_timestamp(second)
    assert page["url"] == url and "".join(ch for ch in page["ts"] if ch.isdigit())[:14] == stamp
    with pywb_replay(unpacked / "archive") as replay:
        collection = replay.root / "collections" / replay.collection
        (collection / "indexes" / "index.cdxj").write_bytes((unpacked / "indexes/index.cdxj").read_bytes())
        raw = requests.get(replay.raw_url(url, stamp), timeout=TIMEOUT)
        assert raw.status_code == 200 and raw.content == requests.get(url, timeout=TIMEOUT).content


def test_the_keep_policy_writes_every_response_in_full(make_ctx, fixture_site):
    ctx = make_ctx(ARCHIVER_DEDUP="keep")
    url = fixture_site.url("/changes/stable")
    capture(ctx, url)
    second = capture(ctx, url)
    assert second.change == "unchanged" and second.revisit_of is None
    assert "revisit" not in [r.record_type for r in second.records]
    assert "conversion" in [r.record_type for r in second.records]


# --- text unchanged, changed -------------------------------------------------------------

def test_bytes_that_differ_with_the_same_text_are_text_unchanged_and_alert_no_one(
        make_ctx, fixture_site, receiver):
    ctx = make_ctx(receiver.allow)
    url = fixture_site.url("/changes/rotating")
    watch_id, _ = make_watch(ctx, url, receiver.url)
    first = capture(ctx, url, watch_id)
    second = capture(ctx, url, watch_id)
    assert second.payload_sha256 != first.payload_sha256
    assert second.text_sha256 == first.text_sha256
    assert (second.change, second.previous_id, second.revisit_of) == ("text unchanged", first.id, None)
    assert [r.record_type for r in second.records][:1] == ["response"]
    with ctx.sessions() as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
    assert receiver.received == []


def test_a_changed_text_sends_a_signed_webhook_with_the_diff(make_ctx, make_client, fixture_site,
                                                              receiver):
    ctx = make_ctx(receiver.allow)
    url = fixture_site.url("/changes/revised")
    watch_id, secret = make_watch(ctx, url, receiver.url)
    assert secret
    first = capture(ctx, url, watch_id)
    second = capture(ctx, url, watch_id)
    assert (second.change, second.previous_id) == ("changed", first.id)
    with ctx.sessions() as session:
        [delivery] = session.scalars(select(WebhookDelivery)).all()
    assert (delivery.watch_id, delivery.capture_id, delivery.state) == (watch_id, second.id, "pending")
    assert receiver.received == []                       # nothing is sent before the task runs

    outcome = deliver(ctx.settings, ctx.sessions, delivery.id)
    assert (outcome.state, outcome.retry_in) == ("delivered", None)
    [got] = receiver.received
    expected = "sha256=" + hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers[HEADER], expected)
    assert verify(secret, got.body, got.headers[HEADER])
    assert not verify(secret, got.body + b" ", got.headers[HEADER])
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Archiver-Delivery"] == str(delivery.id)
    payload = json.loads(got.body)
    assert payload["event"] == "capture.changed" and payload["delivery_id"] == delivery.id
    assert payload["watch"]["id"] == watch_id
    assert payload["capture"]["id"] == second.id and payload["previous"]["id"] == first.id
    assert payload["diff"]["stats"]["replace"] == 1
    base = ctx.settings.public_url
    assert payload["links"]["diff"] == f"{base}/captures/{first.id}/diff/{second.id}"
    assert payload["links"]["diff_api"] == f"{base}/api/v1/captures/{first.id}/diff/{second.id}"

    again = deliver(ctx.settings, ctx.sessions, delivery.id)       # a redelivered task
    assert (again.state, again.ran) == ("delivered", False) and len(receiver.received) == 1

    client = make_client(ctx.settings)
    diff = client.get(payload["links"]["diff_api"][len(base):]).get_json()
    assert diff["changed"] is True
    listed = client.get(f"/api/v1/watches/{watch_id}/deliveries").get_json()["deliveries"]
    assert [(d["id"], d["state"], d["attempts"], d["last_status"]) for d in listed] == [
        (delivery.id, "delivered", 1, 200)]
    one = client.get(f"/api/v1/deliveries/{delivery.id}").get_json()
    assert one["payload"].encode() == got.body and secret not in json.dumps(one)


def test_a_failing_receiver_is_retried_with_backoff_and_every_attempt_logged(make_ctx, fixture_site):
    with WebhookReceiver(answers=[500, 503]) as receiver:
        ctx = make_ctx(receiver.allow)
        url = fixture_site.url("/changes/revised")
        watch_id, secret = make_watch(ctx, url, receiver.url)
        capture(ctx, url, watch_id)
        changed = capture(ctx, url, watch_id)
        with ctx.sessions() as session:
            [delivery_id] = session.scalars(select(WebhookDelivery.id)).all()
        outcomes = [deliver(ctx.settings, ctx.sessions, delivery_id) for _ in range(3)]
    assert [o.state for o in outcomes] == ["pending", "pending", "delivered"]
    assert [o.retry_in for o in outcomes] == [0.5, 1.0, None]              # doubling back-off
    assert len(receiver.received) == 3
    assert len({r.body for r in receiver.received}) == 1                      # the same body, signed
    assert all(verify(secret, r.body, r.headers[HEADER]) for r in receiver.received)
    with ctx.sessions() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert (delivery.state, delivery.attempts, delivery.capture_id) == ("delivered", 3, changed.id)
        log = delivery.attempt_log
    assert [(a["attempt"], a["status"]) for a in log] == [(1, 500), (2, 503), (3, 200)]
    assert "503" in log[1]["error"] and log[2]["error"] is None


def test_a_receiver_that_never_answers_well_fails_after_the_last_attempt(make_ctx, fixture_site):
    with WebhookReceiver(answers=[500, 500, 500]) as receiver:
        ctx = make_ctx(receiver.allow, ARCHIVER_WEBHOOK_MAX_ATTEMPTS=2)
        url = fixture_site.url("/changes/revised")
        watch_id, _ = make_watch(ctx, url, receiver.url)
        capture(ctx, url, watch_id)
        capture(ctx, url, watch_id)
        with ctx.sessions() as session:
            [delivery_id] = session.scalars(select(WebhookDelivery.id)).all()
        outcomes = [deliver(ctx.settings, ctx.sessions, delivery_id) for _ in range(3)]
    assert [(o.state, o.ran) for o in outcomes] == [("pending", True), ("failed", True), ("failed", False)]
    assert len(receiver.received) == 2


def test_a_webhook_to_an_address_the_guard_refuses_is_never_sent(make_ctx, fixture_site):
    with WebhookReceiver() as receiver:
        ctx = make_ctx()                               # the receiver is not in ARCHIVER_ALLOW_PRIVATE
        url = fixture_site.url("/changes/revised")
        watch_id, _ = make_watch(ctx, url, receiver.url)
        capture(ctx, url, watch_id)
        capture(ctx, url, watch_id)
        with ctx.sessions() as session:
            [delivery_id] = session.scalars(select(WebhookDelivery.id)).all()
        outcome = deliver(ctx.settings, ctx.sessions, delivery_id)
        assert receiver.received == []
    assert (outcome.state, outcome.retry_in) == ("failed", None)
    with ctx.sessions() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery.attempts == 1 and "not on the public internet" in delivery.last_error


# --- what reads the markings: history, feeds ----------------------------------------------

def test_history_and_feeds_read_the_stored_markings(make_ctx, make_client, fixture_site, receiver):
    ctx = make_ctx(receiver.allow)
    revised, stable = fixture_site.url("/changes/revised"), fixture_site.url("/changes/stable")
    watch_id, _ = make_watch(ctx, revised, receiver.url)
    other_id, _ = make_watch(ctx, stable)
    watched = [capture(ctx, revised, watch_id) for _ in range(3)]
    unwatched = [capture(ctx, revised) for _ in range(1)]
    [capture(ctx, stable, other_id) for _ in range(2)]
    client = make_client(ctx.settings)

    history = client.get(f"/api/v1/history?url={revised}").get_json()["captures"]
    assert [(c["id"], c["change"], c["previous_id"]) for c in history] == [
        (watched[0].id, "first", None), (watched[1].id, "changed", watched[0].id),
        (watched[2].id, "changed", watched[1].id), (unwatched[0].id, "changed", watched[2].id)]

    response = client.get("/feeds/changes.atom")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0 and feed.version == "atom10", feed.get("bozo_exception")
    base = ctx.settings.public_url
    assert feed.feed.id == f"{base}/feeds/changes.atom"
    ids = [capture.id for capture in (unwatched[0], watched[2], watched[1])]     # newest first
    assert [e.id for e in feed.entries] == [f"{base}/captures/{i}" for i in ids]
    entry = feed.entries[0]
    assert entry.link == f"{base}/captures/{watched[2].id}/diff/{unwatched[0].id}"
    assert "1 paragraph changed" in entry.summary and entry.updated_parsed
    assert client.get(entry.link[len(base):]).status_code == 200

    mine = feedparser.parse(client.get(f"/watches/{watch_id}/changes.atom").data)
    assert mine.bozo == 0 and mine.feed.id == f"{base}/watches/{watch_id}/changes.atom"
    assert [e.id for e in mine.entries] == [f"{base}/captures/{c.id}" for c in (watched[2], watched[1])]
    quiet = feedparser.parse(client.get(f"/watches/{other_id}/changes.atom").data)
    assert quiet.bozo == 0 and quiet.entries == []
    assert client.get("/watches/999999/changes.atom").status_code == 404
    page = client.get(f"/captures/{watched[1].id}").data.decode()
    assert f"/captures/{watched[0].id}/diff/{watched[1].id}" in page       # the capture page links its diff


# --- what storing a capture writes ------------------------------------------------------

def test_a_stored_capture_leaves_its_unset_json_columns_sql_null(make_ctx, fixture_site):
    from sqlalchemy import text
    ctx = make_ctx()
    row = capture(ctx, fixture_site.url("/plain.txt"))
    assert row.state == "stored" and row.requisites is None and row.browser is None
    with ctx.sessions() as session:
        nulls = session.execute(text("SELECT requisites IS NULL, browser IS NULL, http_headers IS NULL "
                                     "FROM captures WHERE id = :id"), {"id": row.id}).one()
    assert tuple(nulls) == (True, True, False)     # SQL NULL, not the JSON text 'null'


def test_the_previous_capture_is_found_for_a_capture_not_yet_added(make_ctx, fixture_site):
    from archiver.changes import previous_capture
    ctx = make_ctx()
    url = fixture_site.url("/changes/stable")
    first = capture(ctx, url)
    unsaved = Capture(final_url=url, fetched_at=datetime.now(timezone.utc))   # an import's, before its flush
    with ctx.sessions() as session:
        assert previous_capture(session, unsaved).id == first.id
        assert previous_capture(session, first) is None

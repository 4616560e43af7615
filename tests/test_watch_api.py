"""Watches through the API, the web pages, the CLI and watch list files."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.models import Capture, Watch, WatchRun
from archiver.watches import WatchListError, export_list, import_list
from archiver.watches.watchlist import parse
from tests.conftest import form_token
from tests.conftest import REPO

ARCHIVER = Path(sys.executable).parent / "archiver"


def test_api_create_list_get_edit_pause_resume_delete(client, fixture_site):
    url = fixture_site.url("/article")
    created = client.post("/api/v1/watches", json={
        "url": url, "cron": "0  7 * * 1-5", "timezone": "Europe/Paris", "note": "weekday mornings",
        "owner": "desk", "webhook_url": "https://hooks.example.org/archive"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/watches/{body['id']}")
    assert body["cron"] == "0 7 * * 1-5" and body["timezone"] == "Europe/Paris"
    assert body["enabled"] and body["respect_robots"] and not body["flagged"]
    assert len(body["webhook_secret"]) == 64
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert next_run.astimezone(timezone.utc) > datetime.now(timezone.utc)
    assert next_run.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).hour == 7

    listed = client.get("/api/v1/watches").get_json()["watches"]
    assert [w["id"] for w in listed] == [body["id"]] and "webhook_secret" not in listed[0]
    one = client.get(f"/api/v1/watches/{body['id']}").get_json()
    assert one["runs"] == [] and one["note"] == "weekday mornings"

    paused = client.patch(f"/api/v1/watches/{body['id']}", json={"enabled": False}).get_json()
    assert paused["enabled"] is False and paused["next_run_at"] is None
    resumed = client.patch(f"/api/v1/watches/{body['id']}",
                           json={"enabled": True, "cron": "*/10 * * * *", "note": None}).get_json()
    assert resumed["enabled"] and resumed["cron"] == "*/10 * * * *" and resumed["note"] is None
    assert datetime.fromisoformat(resumed["next_run_at"]).minute % 10 == 0

    assert client.delete(f"/api/v1/watches/{body['id']}").status_code == 204
    assert client.get(f"/api/v1/watches/{body['id']}").status_code == 404
    assert client.delete(f"/api/v1/watches/{body['id']}").status_code == 404
    assert client.get("/api/v1/watches").get_json() == {"watches": []}


@pytest.mark.parametrize("payload, field, needle", [
    ({"cron": "0 * * * *"}, "url", "required"),
    ({"url": "https://example.org/"}, "cron", "required"),
    ({"url": "ftp://example.org/", "cron": "0 * * * *"}, "url", "http"),
    ({"url": "https://example.org/", "cron": "0 * * *"}, "cron", "5 fields"),
    ({"url": "https://example.org/", "cron": "61 * * * *"}, "cron", "not valid"),
    ({"url": "https://example.org/", "cron": "0 0 31 2 *"}, "cron", "never"),
    ({"url": "https://example.org/", "cron": "0 * * * *", "timezone": "Mars/Olympus"}, "timezone", "time zone"),
    ({"url": "https://example.org/", "cron": "0 * * * *", "enabled": "yes"}, "enabled", "true or false"),
    ({"url": "https://example.org/", "cron": 5}, "cron", "string"),
    ({"url": "https://example.org/", "cron": "0 * * * *", "colour": "red"}, None, "unknown field"),
])
def test_api_refuses_bad_watches_with_400(client, payload, field, needle):
    response = client.post("/api/v1/watches", json=payload)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert needle in error["detail"] and error.get("field") == field
    assert client.get("/api/v1/watches").get_json() == {"watches": []}


def test_api_non_json_and_missing(client):
    assert client.post("/api/v1/watches", data="url=x").status_code == 415
    assert client.post("/api/v1/watches", json=[1]).status_code == 400
    assert client.patch("/api/v1/watches/5", json={"enabled": False}).status_code == 404
    assert client.get("/api/v1/watches/0").status_code == 404


def test_pages_list_create_edit_pause_delete_and_history(app, client, fixture_site):
    page = client.get("/watches")
    assert page.status_code == 200 and b"No watches yet" in page.data
    token = form_token(client)
    refused = client.post("/watches", data={"csrf_token": token, "url": "ftp://x", "cron": "0 * * * *", "enabled": "1"})
    assert refused.status_code == 400 and b"only http and https" in refused.data
    made = client.post("/watches", data={"csrf_token": token, "url": fixture_site.url("/article"), "cron": "0 * * * *",
                                         "timezone": "UTC", "note": "hourly", "enabled": "1",
                                         "respect_robots": "1"})
    assert made.status_code == 303
    watch_path = made.headers["Location"]
    watch_id = int(watch_path.rsplit("/", 1)[1])
    listing = client.get("/watches").get_data(as_text=True)
    assert fixture_site.url("/article") in listing and "UTC" in listing and "active" in listing
    # a run in the history, with its capture and result
    sessions = app.extensions["archiver"].sessions
    with transaction(sessions) as session:
        capture = Capture(state="stored", source="schedule", requested_url=fixture_site.url("/article"),
                          queued_at=datetime.now(timezone.utc), watch_id=watch_id, http_status=200)
        session.add(capture)
        session.flush()
        session.add(WatchRun(watch_id=watch_id, slot=datetime(2026, 5, 4, 11, tzinfo=timezone.utc),
                             claimed_at=datetime.now(timezone.utc), capture_id=capture.id,
                             result="ok"))
        watch = session.get(Watch, watch_id)
        watch.last_result, watch.last_capture_id = "ok", capture.id
    detail = client.get(watch_path).get_data(as_text=True)
    assert "2026-05-04 11:00:00 UTC" in detail and f"#{capture.id}" in detail and "ok" in detail
    assert client.post(f"/watches/{watch_id}/pause", data={"next": "list", "csrf_token": token}).status_code == 303
    assert "paused" in client.get("/watches").get_data(as_text=True)
    assert client.post(f"/watches/{watch_id}/resume", data={"csrf_token": token}).status_code == 303
    edited = client.post(f"/watches/{watch_id}/edit", data={"csrf_token": token,
        "url": fixture_site.url("/article"), "cron": "30 6 * * *", "timezone": "Asia/Tokyo",
        "note": "mornings in Tokyo", "enabled": "1"})
    assert edited.status_code == 303
    with sessions() as session:
        watch = session.get(Watch, watch_id)
        assert (watch.cron, watch.timezone, watch.respect_robots) == ("30 6 * * *", "Asia/Tokyo", False)
        assert watch.next_run_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).hour == 6
    bad_edit = client.post(f"/watches/{watch_id}/edit", data={"csrf_token": token, "url": fixture_site.url("/article"),
                                                               "cron": "every day"})
    assert bad_edit.status_code == 400 and b"5 fields" in bad_edit.data
    assert client.post(f"/watches/{watch_id}/delete", data={"csrf_token": token}).status_code == 303
    assert client.get(watch_path).status_code == 404
    with sessions() as session:
        kept = session.get(Capture, capture.id)
        assert kept is not None and kept.watch_id is None      # the archive keeps the capture


def test_watch_list_format_round_trip(settings):
    text = (REPO / "seeds" / "news.watches").read_text(encoding="utf-8")
    entries = parse(text)
    assert len(entries) >= 8
    assert all(e.fields["url"].startswith("https://") for e in entries)
    migrate(settings.database_url)
    sessions = make_session_factory(make_engine(settings.database_url))
    with transaction(sessions) as session:
        report = import_list(session, text, owner="tester")
    assert len(report.added) == len(entries) and report.updated == []
    with transaction(sessions) as session:
        exported = export_list(session)
    # importing its own export changes nothing and adds nothing
    with transaction(sessions) as session:
        again = import_list(session, exported)
        assert again.added == [] and len(again.updated) == len(entries)
        assert export_list(session) == exported
    with sessions() as session:
        lemonde = session.scalars(select(Watch).where(Watch.url == "https://www.lemonde.fr/")).one()
    assert (lemonde.cron, lemonde.timezone, lemonde.note) == (
        "0 6,12,18 * * *", "Europe/Paris", "Le Monde, morning, noon and evening")


def test_watch_list_options_and_errors():
    [entry] = parse("*/5 * * * * 30  https://example.org/a#frag  tz=Asia/Tokyo robots=no paused "
                    "owner=Ada%20L webhook=https://h.example/x  # a note # with a hash\n")
    assert entry.fields == {"cron": "*/5 * * * * 30", "url": "https://example.org/a#frag",
                            "note": "a note # with a hash", "timezone": "Asia/Tokyo",
                            "respect_robots": False, "enabled": False,
                            "webhook_url": "https://h.example/x"}
    assert entry.owner == "Ada L"
    for line, needle in [("0 * * * *", "no http"), ("0 * * * https://example.org/", "4 cron fields"),
                         ("0 * * * * https://example.org/ colour=red", "unknown option")]:
        with pytest.raises(WatchListError, match=needle) as info:
            parse("# header\n\n" + line)
        assert str(info.value).startswith("line 3:")


def test_import_is_all_or_nothing(settings):
    migrate(settings.database_url)
    sessions = make_session_factory(make_engine(settings.database_url))
    bad = "0 * * * *  https://example.org/ok\n0 * * * *  ftp://example.org/no\n"
    with pytest.raises(WatchListError, match="line 2"):
        with transaction(sessions) as session:
            import_list(session, bad)
    with sessions() as session:
        assert session.scalars(select(Watch)).all() == []


def run_cli(settings, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVER_", "DATABASE_URL"))}
    env["ARCHIVER_DATA_DIR"] = str(settings.data_dir)
    return subprocess.run([ARCHIVER, "watch", *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=120, cwd=REPO)


def test_cli_add_list_pause_resume_edit_export_import_delete(settings, tmp_path):
    added = run_cli(settings, "add", "https://example.org/news", "--cron", "0 */6 * * *",
                    "--tz", "Europe/Paris", "--note", "front page", "--no-robots")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("watch 1: https://example.org/news  [0 */6 * * *] Europe/Paris  next ")
    assert run_cli(settings, "pause", "1").stdout.rstrip().endswith("paused")
    assert "next " in run_cli(settings, "resume", "1").stdout
    edited = run_cli(settings, "edit", "1", "--cron", "15 8 * * *", "--owner", "desk")
    assert "[15 8 * * *]" in edited.stdout
    exported = run_cli(settings, "export")
    assert exported.returncode == 0
    lines = [line for line in exported.stdout.splitlines() if not line.startswith("#")]
    assert lines == ["15 8 * * *  https://example.org/news  tz=Europe/Paris  robots=no  owner=desk"
                     "  # front page"]
    path = tmp_path / "mine.watches"
    path.write_text("*/30 * * * *  https://example.com/  # second\n", encoding="utf-8")
    imported = run_cli(settings, "import", str(path))
    assert imported.stdout.strip() == "1 watches added, 0 updated"
    listed = run_cli(settings, "list").stdout.splitlines()
    assert [line.split(":")[0] for line in listed] == ["watch 1", "watch 2"]
    assert run_cli(settings, "delete", "1").stdout.strip() == "watch 1 deleted"
    missing = run_cli(settings, "pause", "1")
    assert missing.returncode == 1 and "no watch with id 1" in missing.stderr
    refused = run_cli(settings, "add", "https://example.org/", "--cron", "every hour")
    assert refused.returncode == 2 and "5 fields" in refused.stderr
    bad_file = run_cli(settings, "import", "-", stdin="0 * * * *  https://example.org/ colour=red\n")
    assert bad_file.returncode == 2 and "line 1: unknown option" in bad_file.stderr


def test_dispatch_interval_is_a_validated_setting(data_dir):
    from archiver.config import ConfigError
    from tests.conftest import make_settings
    assert make_settings(data_dir, ARCHIVER_DISPATCH_INTERVAL=2).dispatch_interval == 2
    for bad in ("0", "-1", "soon", "7200"):
        with pytest.raises(ConfigError, match="ARCHIVER_DISPATCH_INTERVAL"):
            make_settings(data_dir, ARCHIVER_DISPATCH_INTERVAL=bad)
    assert make_settings(data_dir, ARCHIVER_HOST_MIN_INTERVAL=0).host_min_interval == 0
    with pytest.raises(ConfigError, match="ARCHIVER_HOST_CONCURRENCY"):
        make_settings(data_dir, ARCHIVER_HOST_CONCURRENCY=0)
    from workers.app import create_celery
    beat = create_celery(make_settings(data_dir, ARCHIVER_DISPATCH_INTERVAL=3)).conf.beat_schedule
    assert beat["dispatch-watches"]["task"] == "archiver.dispatch_watches"
    assert beat["dispatch-watches"]["schedule"] == 3
    assert beat["dispatch-watches"]["options"]["expires"] == 3


def test_openapi_describes_the_watch_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/watches"]) == {"get", "post"}
    assert set(paths["/api/v1/watches/{watch_id}"]) == {"get", "patch", "delete"}

"""A watch end to end with real parts: `archiver scheduler` (Celery beat) runs the dispatcher
every second (ARCHIVER_DISPATCH_INTERVAL=1), `archiver worker` captures on the real Redis,
`archiver web` serves the API; the watched page on the fixture site changes between runs.

The archive must end up with one full capture, one revisit (unchanged), one changed capture
with its diff, and the webhook receiver on 127.0.0.1 with one signed alert.
"""
from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from archiver.db import make_engine, make_session_factory
from archiver.models import CHANGED, FIRST, UNCHANGED, Capture, WebhookDelivery
from archiver.webhooks.signature import HEADER, verify
from tests.live_service import live_service
from tests.webhook_receiver import WebhookReceiver

PAGE = ("<!DOCTYPE html><html><head><title>Harbour news</title></head><body><article>"
        "<h1>Harbour lighthouse</h1><p>The council met on Tuesday about the old lighthouse.</p>"
        "<p>{verdict}</p><p>Work would take most of the coming year, the engineers said.</p>"
        "</article></body></html>")
BEFORE = PAGE.format(verdict="The council voted to restore the lighthouse this spring.")
AFTER = PAGE.format(verdict="The council voted to demolish the lighthouse this spring.")


def wait_for(what: str, check, timeout: float, logs=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s\n{logs()}")


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def service(tmp_path, redis_url, fixture_site, hook):
    extra = {"ARCHIVER_ALLOW_PRIVATE": f"{fixture_site.allow},{hook.allow}",
             "ARCHIVER_DISPATCH_INTERVAL": "1", "ARCHIVER_HOST_MIN_INTERVAL": "0",
             "ARCHIVER_WEBHOOK_BACKOFF": "1"}
    with live_service(tmp_path / "data", redis_url, fixture_site, extra_env=extra) as svc:
        beat = svc.spawn("scheduler")
        try:
            yield svc
        finally:
            if beat.poll() is None:
                beat.send_signal(signal.SIGTERM)
                beat.wait(timeout=30)


def test_scheduled_captures_revisit_change_diff_and_one_signed_alert(service, fixture_site, hook):
    path = f"/w/e2e-{uuid.uuid4().hex[:8]}"
    fixture_site.set_page_sequence(path, [BEFORE, BEFORE, AFTER])   # the third run sees a change
    url = fixture_site.url(path)
    created = requests.post(service.base + "/api/v1/watches", timeout=10, json={
        "url": url, "cron": "* * * * * */3", "note": "end to end", "webhook_url": hook.url})
    assert created.status_code == 201, created.text
    watch = created.json()
    secret = watch["webhook_secret"]
    logs = lambda: "\n".join(f"--- {part}\n{service.log(part)}" for part in ("scheduler", "worker"))

    def three_runs_done():
        body = requests.get(f"{service.base}/api/v1/watches/{watch['id']}", timeout=10).json()
        done = [r for r in reversed(body["runs"]) if r["result"]]
        return done if len(done) >= 3 else None

    runs = wait_for("three scheduled runs", three_runs_done, 180, logs)
    paused = requests.patch(f"{service.base}/api/v1/watches/{watch['id']}", json={"enabled": False},
                            timeout=10)
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    assert [r["result"] for r in runs[:3]] == ["ok", "ok", "ok"], runs
    slots = [r["slot"] for r in runs]
    assert len(set(slots)) == len(slots)                      # one run per slot
    first, second, third = (r["capture_id"] for r in runs[:3])

    sessions = make_session_factory(make_engine(service.settings.database_url))
    with sessions() as session:
        captures = {c.id: c for c in session.scalars(select(Capture).where(
            Capture.watch_id == watch["id"]))}
        records = {cid: [r.record_type for r in captures[cid].records] for cid in (first, second, third)}
    assert {c.source for c in captures.values()} == {"schedule"}
    assert all(captures[cid].state == "stored" for cid in (first, second, third))
    # 1: a full capture; 2: unchanged, written as a revisit of 1; 3: changed, in full again
    assert captures[first].change == FIRST and "response" in records[first]
    assert captures[second].change == UNCHANGED and captures[second].revisit_of == first
    assert "revisit" in records[second] and "response" not in records[second]
    assert captures[third].change == CHANGED and captures[third].previous_id == second
    assert "response" in records[third] and captures[third].revisit_of is None
    # any later run (before the pause took) saw the same page again: unchanged
    assert all(captures[r["capture_id"]].change == UNCHANGED for r in runs[3:] if r["capture_id"])

    diff = requests.get(f"{service.base}/api/v1/captures/{second}/diff/{third}", timeout=10)
    assert diff.status_code == 200, diff.text
    assert "demolish" in diff.text and "restore" in diff.text

    def delivered():
        with sessions() as session:
            rows = list(session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.watch_id == watch["id"])))
        return rows if rows and all(r.state == "delivered" for r in rows) else None

    [delivery] = wait_for("the webhook delivery", delivered, 60, logs)
    sessions.kw["bind"].dispose()
    assert delivery.capture_id == third
    [alert] = hook.received
    assert verify(secret, alert.body, alert.headers.get(HEADER)), alert.headers
    assert not verify("not the secret", alert.body, alert.headers.get(HEADER))
    payload = json.loads(alert.body)
    assert str(third) in json.dumps(payload) and url in json.dumps(payload)

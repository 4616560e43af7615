"""Change alerts for real: a `celery worker` on Redis captures a watched page twice, the
second capture's changed text queues the webhook task, which retries a receiver on
127.0.0.1 that fails twice, then succeeds; the app lists the attempts."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests

from archiver.db import make_engine, make_session_factory, transaction
from archiver.submissions import Submitter, store_captures
from archiver.watches.service import create_watch
from tests.live_service import live_service
from tests.webhook_receiver import WebhookReceiver
from workers.app import create_celery


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver(answers=[500, 502]) as hook:
        yield hook


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_url, fixture_site, receiver):
    env = {"ARCHIVER_ALLOW_PRIVATE": f"{fixture_site.allow},{receiver.allow}",
           "ARCHIVER_WEBHOOK_BACKOFF": "0.2"}
    with live_service(tmp_path_factory.mktemp("changes") / "data", redis_url, fixture_site,
                      extra_env=env) as svc:
        yield svc


def wait_for(what, check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_a_changed_watched_page_alerts_through_the_worker_with_retries(service, fixture_site, receiver):
    settings = service.settings
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    celery = create_celery(settings)
    url = fixture_site.url("/changes/revised")
    with transaction(sessions) as session:
        watch = create_watch(session, {"url": url, "cron": "0 * * * *", "webhook_url": receiver.url})
        watch_id, secret = watch.id, watch.webhook_secret
    captured = []
    for _ in range(2):       # one after the other: the second is compared with the first
        with transaction(sessions) as session:
            [row] = store_captures(session, [url], None, Submitter("schedule", "watch"), watch_id=watch_id)
            capture_id = row.id
        # a connection of its own: kombu's producer pools are shared by every app in this
        # process on the same Redis, and other tests' apps come and go
        with celery.connection_for_write() as connection:
            celery.send_task("archiver.capture", args=[capture_id], queue=settings.capture_queue,
                             connection=connection)
        captured.append(service.wait(capture_id))
    engine.dispose()
    assert [(c["state"], c["change"]) for c in captured] == [("stored", "first"), ("stored", "changed")]

    deliveries_url = f"{service.base}/api/v1/watches/{watch_id}/deliveries"

    def delivered():
        listed = requests.get(deliveries_url, timeout=10).json()["deliveries"]
        return listed if listed and listed[0]["state"] != "pending" else None

    [delivery] = wait_for("the webhook delivery", delivered)
    assert delivery["state"] == "delivered", delivery
    assert delivery["capture_id"] == captured[1]["id"] and delivery["attempts"] == 3
    assert [a["status"] for a in delivery["attempt_log"]] == [500, 502, 200]
    assert len(receiver.received) == 3
    for got in receiver.received:
        expected = "sha256=" + hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(got.headers["X-Archiver-Signature"], expected)
    payload = json.loads(receiver.received[-1].body)
    assert payload["capture"]["id"] == captured[1]["id"]
    assert payload["previous"]["id"] == captured[0]["id"]
    diff = requests.get(payload["links"]["diff_api"].replace(settings.public_url, service.base), timeout=10)
    assert diff.status_code == 200 and diff.json()["changed"] is True

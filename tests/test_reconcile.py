"""The reconciler with a controlled clock, on SQLite and PostgreSQL: which captures it
sends again, that it sends each once per period, and that two reconcilers at once send
each capture once."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.models import FETCHING, STORED, Capture
from archiver.reconcile import reconcile
from archiver.submissions import Submitter, submit_captures
from tests.conftest import make_settings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def catalogue(database_url, data_dir):
    settings = make_settings(data_dir, DATABASE_URL=database_url, ARCHIVER_RECONCILE_AFTER=300)
    assert settings.task_time_limit == 360
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    yield settings, make_session_factory(engine)
    engine.dispose()


def add(sessions, n: int) -> list[int]:
    captures = submit_captures(sessions, [f"https://example.org/{i}" for i in range(n)], None,
                               Submitter("cli", "tester"), lambda _id: None)
    return [c.id for c in captures]


def set_rows(sessions, ids, **values):
    with transaction(sessions) as session:
        session.execute(update(Capture).where(Capture.id.in_(ids)).values(**values))


def test_what_is_sent_again(catalogue):
    settings, sessions = catalogue
    fresh, old, stalled, busy, done = add(sessions, 5)
    set_rows(sessions, [fresh], queued_at=T0 - timedelta(seconds=100))
    set_rows(sessions, [old, stalled, busy, done], queued_at=T0 - timedelta(hours=1))
    set_rows(sessions, [stalled], state=FETCHING, started_at=T0 - timedelta(seconds=361))
    set_rows(sessions, [busy], state=FETCHING, started_at=T0 - timedelta(seconds=30))
    set_rows(sessions, [done], state=STORED)

    sent: list[int] = []
    report = reconcile(sessions, settings, sent.append, now=T0)
    assert report.queued == [old] and report.stalled == [stalled] and sorted(sent) == sorted([old, stalled])

    # the next run, a minute later, leaves them alone: they were just sent
    again: list[int] = []
    reconcile(sessions, settings, again.append, now=T0 + timedelta(seconds=60))
    assert again == []
    # once the period has passed with no progress, they are sent again; by now the busy
    # capture's lease has run out too
    later: list[int] = []
    reconcile(sessions, settings, later.append, now=T0 + timedelta(seconds=400))
    assert sorted(later) == sorted([fresh, old, stalled, busy])


def test_a_broker_failure_is_tried_again_next_time(catalogue):
    settings, sessions = catalogue
    [capture_id] = add(sessions, 1)
    set_rows(sessions, [capture_id], queued_at=T0 - timedelta(hours=1))

    def down(_id):
        raise ConnectionError("broker down")

    report = reconcile(sessions, settings, down, now=T0)
    assert report.failed_to_send == [capture_id] and report.queued == []
    sent: list[int] = []
    reconcile(sessions, settings, sent.append, now=T0 + timedelta(seconds=301))
    assert sent == [capture_id]


def test_two_reconcilers_at_once_send_each_capture_once(catalogue):
    settings, sessions = catalogue
    ids = add(sessions, 40)
    set_rows(sessions, ids, queued_at=T0 - timedelta(hours=1))
    sent: list[int] = []
    lock = threading.Lock()

    def enqueue(capture_id):
        with lock:
            sent.append(capture_id)

    start = threading.Barrier(2)

    def run():
        start.wait()
        reconcile(sessions, settings, enqueue, now=T0)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == sorted(ids)

"""The catalogue on both SQLite and PostgreSQL: schema, submission, claiming."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, select

from archiver.capture import CaptureContext, claim
from archiver.db import make_engine, make_session_factory, migrate
from archiver.models import QUEUED, Capture
from archiver.submissions import SubmissionError, Submitter, submit_captures
from tests.conftest import make_settings


@pytest.fixture
def catalogue(database_url, data_dir):
    migrate(database_url)
    engine = make_engine(database_url)
    yield engine, make_session_factory(engine)
    engine.dispose()


def test_migration_creates_the_tables(catalogue):
    engine, _ = catalogue
    tables = set(inspect(engine).get_table_names())
    assert {"captures", "warc_files", "capture_records", "alembic_version"} <= tables


def test_migrate_twice_is_harmless(database_url, catalogue):
    migrate(database_url)


def test_submission_stores_then_queues(catalogue):
    _, sessions = catalogue
    queued: list[int] = []

    def enqueue(capture_id):
        # queue only after commit: the row must already be visible to another session
        with sessions() as other:
            assert other.get(Capture, capture_id).state == QUEUED
        queued.append(capture_id)

    captures = submit_captures(sessions, ["https://example.org/a", " HTTPS://Example.ORG:443 "],
                               "a note", Submitter("api", "tester", "192.0.2.1"), enqueue)
    assert queued == [c.id for c in captures]
    with sessions() as session:
        rows = session.scalars(select(Capture).order_by(Capture.id)).all()
    assert [r.requested_url for r in rows] == ["https://example.org/a", "https://example.org/"]
    assert all(r.source == "api" and r.remote_addr == "192.0.2.1" and r.note == "a note" for r in rows)


def test_a_refused_url_stores_nothing(catalogue):
    _, sessions = catalogue
    queued = []
    with pytest.raises(SubmissionError, match="URL number 2"):
        submit_captures(sessions, ["https://example.org/", "ftp://example.org/"], None,
                        Submitter("api"), queued.append)
    with sessions() as session:
        assert session.scalars(select(Capture)).all() == []
    assert queued == []


def test_broker_failure_marks_the_capture_failed_with_reason(catalogue):
    _, sessions = catalogue

    def broken(_capture_id):
        raise ConnectionError("connection refused")

    [capture] = submit_captures(sessions, ["https://example.org/"], None, Submitter("api"), broken)
    with sessions() as session:
        row = session.get(Capture, capture.id)
    assert row.state == "failed" and row.error_code == "broker"
    assert "could not be queued" in row.error


def test_only_one_of_many_racing_workers_claims_a_capture(catalogue, data_dir, database_url):
    _, sessions = catalogue
    [capture] = submit_captures(sessions, ["https://example.org/"], None, Submitter("api"),
                                lambda _id: None)
    settings = make_settings(data_dir, DATABASE_URL=database_url)
    ctx = CaptureContext(settings=settings, sessions=sessions, writer=None)
    winners = []
    barrier = threading.Barrier(6)

    def contender(n):
        barrier.wait()
        if claim(ctx, capture.id, task_id=f"task-{n}") is not None:
            winners.append(n)

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    with sessions() as session:
        row = session.get(Capture, capture.id)
    assert row.state == "fetching" and row.attempts == 1 and row.task_id == f"task-{winners[0]}"

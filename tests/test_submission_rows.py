"""A submission stores exactly what the ORM would have stored for it (every column of its
captures and of their pending `submitted` events), queues after the commit, and answers
with the same JSON as links built one url_for at a time: on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from flask import url_for
from sqlalchemy import select

from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.ledger.models import LedgerPending
from archiver.models import FAILED, QUEUED, Capture, Watch
from archiver.sites import site_of
from archiver.submissions import (Submitter, batches, sites_of, store_captures, submit_captures,
                                  validate_urls)
from archiver.web import MAX_ROW_ID, create_app
from archiver.web.api import capture_link_maker
from tests.conftest import make_settings
from tests.test_driver_rows import _stored

URLS = ["https://example.org/a", " HTTPS://Example.ORG:443/b?q=1 ", "https://bücher.example/é",
        "http://[2001:db8::1]:8080/x", "https://example.org/a", "https://Sub.Example.net./"]
AT = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))


@pytest.fixture
def sessions(database_url, data_dir):
    migrate(database_url)
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def orm_submission(sessions, urls, note, submitter, watch_id=None, mode="plain") -> list[int]:
    """What a submission means, written through the ORM's unit of work."""
    with transaction(sessions) as session:
        captures = [Capture(state=QUEUED, source=submitter.source, submitted_by=submitter.submitted_by,
                            remote_addr=submitter.remote_addr, note=note or None, requested_url=url,
                            site=site_of(url), watch_id=watch_id, mode=mode, queued_at=AT, attempts=0)
                    for url in urls]
        session.add_all(captures)
        session.flush()
        agent = {"kind": submitter.source, "user": submitter.submitted_by, "remote_addr": submitter.remote_addr}
        session.add_all([LedgerPending(recorded_at=AT, event="submitted", capture_id=c.id, agent=agent,
                                       details={"url": c.requested_url, "note": c.note, "watch_id": watch_id})
                         for c in captures])
    return [c.id for c in captures]


def stored_halves(sessions, first_ids, second_ids):
    """Every stored column of both submissions' captures and events, ids left out; the
    events, in the order the log will sequence them, are in the order of their captures."""
    with sessions() as session:
        connection = session.connection()
        captures = {row[0]: row[1:] for row in _stored(connection, Capture.__table__, "id")}
        events = _stored(connection, LedgerPending.__table__, "id")
    assert [int(row[3]) for row in events] == [*first_ids, *second_ids]    # row[3]: capture_id
    rows = [[captures[str(i)] for i in ids] for ids in (first_ids, second_ids)]
    others = [row[1:3] + row[4:] for row in events]
    return rows, [others[:len(first_ids)], others[len(first_ids):]]


@pytest.mark.parametrize("note, submitter, mode", [
    ("a note, «quoted»", Submitter("api", "tester", "192.0.2.1"), "plain"),
    (None, Submitter("cli"), "browser"),
    ("", Submitter("form", "someone"), "plain"),
])
def test_rows_and_events_are_the_orms(sessions, note, submitter, mode):
    urls = validate_urls(URLS, max_urls=100)
    with transaction(sessions) as session:
        mine = [c.id for c in store_captures(session, urls, note, submitter, now=AT, mode=mode)]
    theirs = orm_submission(sessions, urls, note, submitter, mode=mode)
    assert mine == list(range(mine[0], mine[0] + len(urls))) and theirs[0] > mine[-1]
    (my_rows, their_rows), (my_events, their_events) = stored_halves(sessions, mine, theirs)
    assert my_rows == their_rows
    assert my_events == their_events


def test_a_watch_run_is_the_orms(sessions):
    with transaction(sessions) as session:
        watch = Watch(url=URLS[0], cron="0 * * * *", note="watched", created_at=AT, updated_at=AT)
        session.add(watch)
        session.flush()
        watch_id = watch.id
        submitter = Submitter("schedule", f"watch {watch_id}")
        [mine] = store_captures(session, [URLS[0]], "watched", submitter, watch_id=watch_id, now=AT)
    [theirs] = orm_submission(sessions, [URLS[0]], "watched", submitter, watch_id=watch_id)
    (my_rows, their_rows), (my_events, their_events) = stored_halves(sessions, [mine.id], [theirs])
    assert my_rows == their_rows and my_events == their_events


def test_ids_follow_rows_already_there(sessions):
    """The next ids after the largest one, as the database itself would give them."""
    first = orm_submission(sessions, URLS[:2], None, Submitter("cli"))
    with transaction(sessions) as session:
        later = [c.id for c in store_captures(session, URLS[:3], None, Submitter("cli"))]
    assert later == [first[-1] + 1, first[-1] + 2, first[-1] + 3]


def test_batches_are_queued_in_order_after_the_commit(sessions):
    sent: list[list[int]] = []

    def enqueue_batch(ids):
        with sessions() as other:     # committed: another session sees every row of the task
            states = other.scalars(select(Capture.state).where(Capture.id.in_(ids))).all()
            assert states == [QUEUED] * len(ids)
        sent.append(ids)

    captures = submit_captures(sessions, [f"https://example.org/{n}" for n in range(50)], None,
                               Submitter("api"), enqueue=lambda _id: pytest.fail("one task each"),
                               enqueue_batch=enqueue_batch, batch_size=20)
    assert [i for ids in sent for i in ids] == [c.id for c in captures]
    assert [len(ids) for ids in sent] == [len(part) for part in batches(50, 20)]
    assert all(c.state == QUEUED for c in captures)


@pytest.fixture
def make_app(data_dir, database_url):
    """make_app(**env): the web app on the test's database; its connections closed after."""
    made = []

    def make(**env):
        settings = make_settings(data_dir, DATABASE_URL=database_url, **env)
        migrate(settings.database_url)
        made.append(create_app(settings))
        return made[-1]

    yield make
    for app in made:
        app.extensions["archiver"].sessions.kw["bind"].dispose()


def test_the_answer_is_links_built_one_by_one(make_app):
    app = make_app()
    client = app.test_client()
    response = client.post("/api/v1/captures", json={"urls": URLS, "note": "n"},
                           base_url="http://localhost/archive")
    assert response.status_code == 202
    body = response.get_json()
    urls = validate_urls(URLS, max_urls=100)
    with app.test_request_context(base_url="http://localhost/archive"):
        expected = [{"id": i, "url": url, "state": QUEUED,
                     "links": {"self": url_for("api.get_capture", capture_id=i)}}
                    for i, url in zip(body["ids"], urls)]
        location = url_for("api.list_captures", ids=",".join(map(str, body["ids"])))
    assert body == {"ids": body["ids"], "captures": expected}
    assert response.headers["Location"] == location and location.startswith("/archive/api/v1/captures")
    messages = [json.loads(p.read_text()) for p in sorted((app.extensions["archiver"].settings.broker_dir
                                                          / "queue").glob("*.msg"))]
    assert len(messages) == len(URLS)      # few URLs: one task each (submissions.SPREAD_TASKS)


def test_links_from_the_template_are_url_fors(app):
    for base in ("http://localhost", "http://localhost/a/987654321987654321"):
        with app.test_request_context(base_url=base):
            link = capture_link_maker()
            for capture_id in (1, 9, 10, 987654321, 987654321987654321, MAX_ROW_ID):
                assert link(capture_id) == url_for("api.get_capture", capture_id=capture_id)


def test_an_unreachable_broker_fails_the_captures_with_the_reason(make_app, redis_url):
    # nothing listens on port 1: every publish is refused, after Celery's retries (the
    # rate limiter, which would use the broker's Redis, gets the real one)
    app = make_app(ARCHIVER_BROKER_URL="redis://127.0.0.1:1/0", ARCHIVER_RATE_LIMIT_URL=redis_url)
    response = app.test_client().post("/api/v1/captures", json={"urls": URLS[:2]})
    assert response.status_code == 503
    body = response.get_json()
    assert [c["state"] for c in body["captures"]] == [FAILED, FAILED]
    assert "broker" in body["error"]["detail"]
    with app.extensions["archiver"].sessions() as session:
        rows = session.scalars(select(Capture).order_by(Capture.id)).all()
    assert [r.id for r in rows] == body["ids"]
    assert all(r.state == FAILED and r.error_code == "broker" and "could not be queued" in r.error
               and r.finished_at is not None for r in rows)


def test_a_rate_limiter_that_does_not_answer_refuses_with_what_to_do_and_stores_nothing(make_app):
    # unset, the limiter is the broker's Redis: both down, the submission is counted first
    app = make_app(ARCHIVER_BROKER_URL="redis://127.0.0.1:1/0")
    response = app.test_client().post("/api/v1/captures", json={"urls": URLS[:2]})
    assert response.status_code == 503
    detail = str(response.get_json())
    assert "rate limiter" in detail and "127.0.0.1:1" in detail and "ARCHIVER_RATE_LIMIT_URL" in detail
    with app.extensions["archiver"].sessions() as session:
        assert session.scalars(select(Capture)).all() == []


def test_sites_are_site_ofs():
    urls = ["http://a.example/1", "http://A.example/2", "https://a.example./", "http://a.example:8080/x",
            "http://user@Host.example:80/", "http://[2001:DB8::1]/", "http://a?b/c", "http://a?c/b",
            "http://a#x/y", "//h.example/x", "mailto:a/b/c", "http:/x/y", "http://x", "http://x?q", "",
            "https://xn--bcher-kva.example/é", "http://a.example/1"]
    assert sites_of(urls) == [site_of(url) for url in urls]
    assert sites_of(urls[::-1]) == [site_of(url) for url in urls[::-1]]


def test_racing_submissions_get_their_own_ids(sessions, database_url):
    """Several engines (as several web processes would have) submitting at once: each
    capture returned is the row with its id and URL, and no id is given twice."""
    engines = [make_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    returned: list[list] = [[] for _ in engines]

    def submit(n):
        barrier.wait()
        for round_ in range(5):
            urls = [f"https://example.org/{n}/{round_}/{k}" for k in range(40)]
            returned[n] += submit_captures(make_session_factory(engines[n]), urls, None, Submitter("api"),
                                           enqueue=lambda _id: None, enqueue_batch=lambda _ids: None,
                                           batch_size=20)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    with sessions() as session:
        stored = dict(session.execute(select(Capture.id, Capture.requested_url)).all())
        events = dict(session.execute(select(LedgerPending.capture_id, LedgerPending.details)).all())
    mine = [c for captures in returned for c in captures]
    assert len(stored) == len(events) == len(mine) == 4 * 5 * 40
    assert {c.id: c.requested_url for c in mine} == stored
    assert {i: details["url"] for i, details in events.items()} == stored

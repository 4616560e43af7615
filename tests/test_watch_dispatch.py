"""The watch dispatcher with a controlled clock, on SQLite and PostgreSQL: due and not due,
catch-up after downtime, time zones and daylight saving, politeness, robots.txt, back-off,
flagging, and the address guard on every scheduled run. Captures run for real
(run_capture against the fixture site); only the clock is chosen by the test."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from archiver.capture import run_capture
from archiver.db import transaction
from archiver.models import Capture, Watch, WatchRun
from archiver.watches import create_watch, dispatch, next_slot, update_watch
from archiver.watches.robots import RobotsRules
from tests.fixture_site import FixtureSite
from tests.conftest import capture_contexts

UTC = timezone.utc


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def no_robots(url, settings):
    raise AssertionError("robots.txt must not be consulted for a watch that does not honour it")


@pytest.fixture
def make_ctx(settings, database_url):
    """Capture contexts on SQLite and on PostgreSQL (conftest's `database_url`)."""
    with capture_contexts() as make:
        yield lambda **overrides: make(settings.with_overrides(database_url=database_url, **overrides))


@pytest.fixture
def ctx(make_ctx):
    # politeness off unless a test turns it on: most tests here are about the clock
    return make_ctx(host_min_interval=0, host_concurrency=1000)


class Queue:
    """Stands in for the broker's queue: dispatch() calls it after its commit."""

    def __init__(self):
        self.ids: list[int] = []

    def __call__(self, capture_id: int) -> None:
        self.ids.append(capture_id)


def add_watch(ctx, now, **fields) -> int:
    fields.setdefault("respect_robots", False)
    with transaction(ctx.sessions) as session:
        return create_watch(session, fields, owner="tester", now=now).id


def tick(ctx, now, queue=None, **kw):
    kw.setdefault("robots", no_robots)
    return dispatch(ctx.sessions, ctx.settings, queue or Queue(), now=now, name="test", **kw)


def watch_row(ctx, watch_id) -> Watch:
    with ctx.sessions() as session:
        return session.get(Watch, watch_id)


def runs_of(ctx, watch_id) -> list[WatchRun]:
    with ctx.sessions() as session:
        return list(session.scalars(select(WatchRun).where(WatchRun.watch_id == watch_id)
                                    .order_by(WatchRun.slot)))


def capture_count(ctx) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(Capture))


def test_due_and_not_due_and_a_second_run_of_the_same_tick(ctx, fixture_site):
    t0 = at(2026, 5, 4, 10, 20)
    watch_id = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="0 * * * *", note="hourly")
    assert watch_row(ctx, watch_id).next_run_at == at(2026, 5, 4, 11, 0)

    assert tick(ctx, at(2026, 5, 4, 10, 59, 59)).queued == []
    queue = Queue()
    report = tick(ctx, at(2026, 5, 4, 11, 0, 0), queue)
    assert report.claimed == [(watch_id, at(2026, 5, 4, 11, 0))]
    assert queue.ids == report.queued and len(queue.ids) == 1
    # the dispatcher run again in the same minute, and later before the next slot: nothing
    assert tick(ctx, at(2026, 5, 4, 11, 0, 0)).queued == []
    assert tick(ctx, at(2026, 5, 4, 11, 59)).queued == []

    [run] = runs_of(ctx, watch_id)
    with ctx.sessions() as session:
        capture = session.get(Capture, queue.ids[0])
    assert run.capture_id == capture.id and run.slot == at(2026, 5, 4, 11, 0)
    assert (capture.source, capture.watch_id, capture.state) == ("schedule", watch_id, "queued")
    assert capture.requested_url == fixture_site.url("/article") and capture.note == "hourly"
    watch = watch_row(ctx, watch_id)
    assert watch.next_run_at == at(2026, 5, 4, 12, 0) and watch.last_capture_id == capture.id


def test_paused_and_flagged_watches_do_not_run(ctx, fixture_site):
    t0 = at(2026, 5, 4, 10, 0)
    paused = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="*/5 * * * *", enabled=False)
    flagged = add_watch(ctx, t0, url=fixture_site.url("/plain.txt"), cron="*/5 * * * *")
    with transaction(ctx.sessions) as session:
        session.get(Watch, flagged).flagged = True
    assert tick(ctx, at(2026, 5, 4, 11, 0)).queued == []
    with transaction(ctx.sessions) as session:
        update_watch(session, session.get(Watch, paused), {"enabled": True}, now=at(2026, 5, 4, 11, 1))
        update_watch(session, session.get(Watch, flagged), {"enabled": True}, now=at(2026, 5, 4, 11, 1))
    assert watch_row(ctx, flagged).flagged is False
    assert len(tick(ctx, at(2026, 5, 4, 11, 5)).queued) == 2


def test_missed_slots_collapse_into_one_catch_up_capture(ctx, fixture_site):
    t0 = at(2026, 5, 4, 10, 20)
    watch_id = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="*/15 * * * *")
    # the scheduler was down from 10:20 until 15:37: 21 slots were missed
    report = tick(ctx, at(2026, 5, 4, 15, 37))
    assert report.claimed == [(watch_id, at(2026, 5, 4, 15, 30))]
    assert len(report.queued) == 1 and capture_count(ctx) == 1
    assert watch_row(ctx, watch_id).next_run_at == at(2026, 5, 4, 15, 45)
    assert tick(ctx, at(2026, 5, 4, 15, 44)).queued == []
    assert len(tick(ctx, at(2026, 5, 4, 15, 45)).queued) == 1
    assert [r.slot for r in runs_of(ctx, watch_id)] == [at(2026, 5, 4, 15, 30), at(2026, 5, 4, 15, 45)]


def test_time_zones_winter_and_summer(ctx, fixture_site):
    t0 = at(2026, 1, 10, 0, 0)
    ny = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="0 6 * * *",
                   timezone="America/New_York")
    tokyo = add_watch(ctx, t0, url=fixture_site.url("/plain.txt"), cron="0 6 * * *",
                      timezone="Asia/Tokyo")
    assert watch_row(ctx, tokyo).next_run_at == at(2026, 1, 10, 21, 0)   # 06:00 JST, UTC+9
    assert watch_row(ctx, ny).next_run_at == at(2026, 1, 10, 11, 0)      # 06:00 EST, UTC-5
    assert [w for w, _ in tick(ctx, at(2026, 1, 10, 10, 59)).claimed] == []
    assert [w for w, _ in tick(ctx, at(2026, 1, 10, 11, 0)).claimed] == [ny]
    assert [w for w, _ in tick(ctx, at(2026, 1, 10, 21, 0)).claimed] == [tokyo]
    # in July New York is on EDT (UTC-4): 06:00 local is 10:00 UTC; Tokyo has no DST
    july = at(2026, 7, 1, 0, 0)
    with transaction(ctx.sessions) as session:
        for watch_id in (ny, tokyo):
            session.get(Watch, watch_id).next_run_at = next_slot("0 6 * * *", session.get(
                Watch, watch_id).timezone, july)
    assert watch_row(ctx, ny).next_run_at == at(2026, 7, 1, 10, 0)
    assert [w for w, _ in tick(ctx, at(2026, 7, 1, 10, 0)).claimed] == [ny]
    assert [w for w, _ in tick(ctx, at(2026, 7, 1, 21, 0)).claimed] == [tokyo]


def slots_over(ctx, watch_id, start, hours, step_minutes=5):
    t = start
    while t < start + timedelta(hours=hours):
        tick(ctx, t)
        t += timedelta(minutes=step_minutes)
    return [r.slot for r in runs_of(ctx, watch_id)]


def test_daylight_saving_spring_forward(ctx, fixture_site):
    # Europe/Paris, 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day
    start = at(2026, 3, 28, 0, 0)
    watch_id = add_watch(ctx, start, url=fixture_site.url("/article"), cron="30 2 * * *",
                         timezone="Europe/Paris")
    assert slots_over(ctx, watch_id, start, 72, step_minutes=10) == [
        at(2026, 3, 28, 1, 30),   # 02:30 CET
        at(2026, 3, 29, 1, 0),    # the first moment after the gap: 03:00 CEST, once
        at(2026, 3, 30, 0, 30)]   # 02:30 CEST


def test_daylight_saving_fall_back(ctx, fixture_site):
    # Europe/Paris, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice
    start = at(2026, 10, 24, 0, 0)
    daily = add_watch(ctx, start, url=fixture_site.url("/article"), cron="30 2 * * *",
                      timezone="Europe/Paris")
    half_hourly = add_watch(ctx, start, url=fixture_site.url("/plain.txt"), cron="*/30 * * * *",
                            timezone="Europe/Paris")
    slots_over(ctx, daily, start, 72, step_minutes=10)
    assert [r.slot for r in runs_of(ctx, daily)] == [
        at(2026, 10, 24, 0, 30),  # 02:30 CEST
        at(2026, 10, 25, 0, 30),  # the first 02:30; the second (01:30 UTC) is not run again
        at(2026, 10, 26, 1, 30)]  # 02:30 CET
    night = [s for s in (r.slot for r in runs_of(ctx, half_hourly))
             if at(2026, 10, 25, 0, 0) <= s < at(2026, 10, 25, 2, 0)]
    # a job that runs every half hour follows real time through both copies of the hour
    assert night == [at(2026, 10, 25, 0, 0), at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1, 0),
                     at(2026, 10, 25, 1, 30)]


def test_politeness_per_host(make_ctx, fixture_site):
    ctx = make_ctx(host_min_interval=30, host_concurrency=1)
    t0 = datetime.now(UTC).replace(microsecond=0)
    first = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="* * * * *")
    second = add_watch(ctx, t0, url=fixture_site.url("/plain.txt"), cron="* * * * *")
    t1 = next_slot("* * * * *", "UTC", t0)
    report = tick(ctx, t1)
    assert [w for w, _ in report.claimed] == [first]
    assert [w for w, _ in report.deferred] == [second] and "still running" in report.deferred[0][1]
    run_capture(ctx, report.queued[0])          # the worker finishes it
    # finished, but the host was visited less than 30 s ago
    report = tick(ctx, t1 + timedelta(seconds=10))
    assert report.claimed == [] and "less than 30 s ago" in report.deferred[0][1]
    with ctx.sessions() as session:
        finished = session.get(Capture, run_of_first := runs_of(ctx, first)[0].capture_id).finished_at
    assert run_of_first
    later = max(finished, t1) + timedelta(seconds=31)
    report = tick(ctx, later)
    # the second watch goes now; the first waits for its turn (one at a time per host)
    assert [w for w, _ in report.claimed] == [second]
    assert runs_of(ctx, second)[0].slot == next_slot("* * * * *", "UTC", later) - timedelta(minutes=1)


def test_robots_txt_when_the_watch_honours_it(make_ctx):
    with FixtureSite() as site:
        ctx = make_ctx(allow_private=frozenset({("127.0.0.1", site.port)}),
                       host_min_interval=0, host_concurrency=100)
        site.set_page("/robots.txt", "User-agent: archiver\nDisallow: /private/\n",
                      content_type="text/plain")
        t0 = at(2026, 5, 4, 10, 0)
        private = add_watch(ctx, t0, url=site.url("/private/page"), cron="0 * * * *",
                            respect_robots=True)
        public = add_watch(ctx, t0, url=site.url("/article"), cron="0 * * * *", respect_robots=True)
        ignoring = add_watch(ctx, t0, url=site.url("/private/other"), cron="0 * * * *",
                             respect_robots=False)
        report = dispatch(ctx.sessions, ctx.settings, Queue(), now=at(2026, 5, 4, 11, 0))
        assert {w for w, _ in report.claimed} == {private, public, ignoring}
        assert [w for w, _ in report.skipped] == [private]
        assert "disallows" in report.skipped[0][1]
        assert len(report.queued) == 2
        [run] = runs_of(ctx, private)
        assert run.result == "robots" and run.capture_id is None and "robots.txt" in run.detail
        assert watch_row(ctx, private).last_result == "robots"
        assert site.requests.count("/robots.txt") == 1     # one look per host per tick
        assert "/private/page" not in site.requests


def test_robots_answer_is_taken_from_the_check_given(ctx, fixture_site):
    t0 = at(2026, 5, 4, 10, 0)
    watch_id = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="0 * * * *",
                         respect_robots=True)
    report = tick(ctx, at(2026, 5, 4, 11, 0),
                  robots=lambda url, s: RobotsRules.denying(url, "unreachable robots.txt"))
    assert report.skipped == [(watch_id, "unreachable robots.txt")] and report.queued == []


def run_all(ctx, ids):
    for capture_id in ids:
        run_capture(ctx, capture_id)


def test_failures_back_off_then_flag_the_watch(make_ctx, fixture_site):
    ctx = make_ctx(host_min_interval=0, host_concurrency=100, watch_backoff=600,
                   watch_max_failures=3)
    t = datetime.now(UTC).replace(second=0, microsecond=0)
    watch_id = add_watch(ctx, t, url=fixture_site.url("/404"), cron="* * * * *")
    failures = []
    for n in (1, 2):
        t = watch_row(ctx, watch_id).next_run_at
        run_all(ctx, tick(ctx, t).queued)
        tick(ctx, t + timedelta(seconds=1))           # settles the run
        watch = watch_row(ctx, watch_id)
        [*_, run] = runs_of(ctx, watch_id)
        assert run.result == "failed" and "HTTP 404" in run.detail
        assert watch.failure_count == n and not watch.flagged and watch.last_result == "failed"
        # the next run waits 600 s, then 1200 s, after the failed capture finished
        assert watch.next_run_at == next_slot("* * * * *", "UTC",
                                              run.finished_at + timedelta(seconds=600 * 2 ** (n - 1)))
        failures.append(run.finished_at)
    t = watch_row(ctx, watch_id).next_run_at
    run_all(ctx, tick(ctx, t).queued)
    tick(ctx, t + timedelta(seconds=1))
    watch = watch_row(ctx, watch_id)
    assert watch.flagged and watch.failure_count == 3 and "3 scheduled captures in a row" in watch.flag_reason
    assert tick(ctx, t + timedelta(days=3)).queued == []       # a flagged watch stays still
    # a person resumes it: it runs again, and a success resets the count
    fixture_site.set_page("/w/backoff-fixed", "<html><body><p>fixed</p></body></html>")
    with transaction(ctx.sessions) as session:
        update_watch(session, session.get(Watch, watch_id),
                     {"enabled": True, "url": fixture_site.url("/w/backoff-fixed")},
                     now=t + timedelta(days=3))
    t = watch_row(ctx, watch_id).next_run_at
    run_all(ctx, tick(ctx, t).queued)
    tick(ctx, t + timedelta(seconds=1))
    watch = watch_row(ctx, watch_id)
    assert (watch.failure_count, watch.flagged, watch.last_result) == (0, False, "ok")


def test_a_site_that_starts_redirecting_inside_is_refused_and_flagged(ctx, fixture_site):
    path = "/w/turns-internal"
    fixture_site.set_page(path, "<html><body><p>an honest page</p></body></html>")
    t = datetime.now(UTC).replace(second=0, microsecond=0)
    watch_id = add_watch(ctx, t, url=fixture_site.url(path), cron="* * * * *")
    t = watch_row(ctx, watch_id).next_run_at
    run_all(ctx, tick(ctx, t).queued)
    tick(ctx, t + timedelta(seconds=1))
    assert watch_row(ctx, watch_id).last_result == "ok"
    # the site now redirects to the cloud metadata address; the guard judges every run
    fixture_site.set_page(path, "moved", status=302,
                          headers=[("Location", "http://169.254.169.254/latest/meta-data/")])
    t = watch_row(ctx, watch_id).next_run_at
    [capture_id] = tick(ctx, t).queued
    run_all(ctx, [capture_id])
    tick(ctx, t + timedelta(seconds=1))
    with ctx.sessions() as session:
        capture = session.get(Capture, capture_id)
    assert capture.state == "failed" and capture.error_code == "refused_address"
    watch = watch_row(ctx, watch_id)
    assert watch.flagged and "address guard" in watch.flag_reason and "169.254.169.254" in watch.flag_reason
    assert watch.failure_count == 1                     # flagged at once, not after five
    assert tick(ctx, t + timedelta(hours=1)).queued == []


def test_broker_down_marks_the_capture_and_does_not_count_against_the_site(ctx, fixture_site):
    t0 = at(2026, 5, 4, 10, 0)
    watch_id = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="0 * * * *")

    def broker_down(_capture_id):
        raise ConnectionError("broker unreachable")

    report = tick(ctx, at(2026, 5, 4, 11, 0), broker_down)
    with ctx.sessions() as session:
        capture = session.get(Capture, report.queued[0])
    assert (capture.state, capture.error_code) == ("failed", "broker")
    tick(ctx, at(2026, 5, 4, 11, 1))
    [run] = runs_of(ctx, watch_id)
    assert run.result == "unqueued"
    assert watch_row(ctx, watch_id).failure_count == 0


def test_a_lost_scheduled_capture_stops_holding_its_host(make_ctx, fixture_site):
    from archiver.watches.politeness import presumed_lost_after
    ctx = make_ctx(host_min_interval=0, host_concurrency=1)
    t0 = at(2026, 5, 4, 10, 0)
    watch_id = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="*/10 * * * *")
    [lost] = tick(ctx, at(2026, 5, 4, 10, 10)).queued       # its message never reaches a worker
    report = tick(ctx, at(2026, 5, 4, 10, 20))
    assert report.queued == [] and "still running" in report.deferred[0][1]
    later = at(2026, 5, 4, 10, 10) + timedelta(seconds=presumed_lost_after(ctx.settings) + 60)
    [again] = tick(ctx, later).queued
    assert again != lost and len(runs_of(ctx, watch_id)) == 2


def test_a_watched_url_the_rules_no_longer_accept_is_flagged_not_fetched(ctx, fixture_site):
    t0 = at(2026, 5, 4, 10, 0)
    watch_id = add_watch(ctx, t0, url=fixture_site.url("/article"), cron="0 * * * *")
    with transaction(ctx.sessions) as session:     # a row from before the URL rules tightened
        session.get(Watch, watch_id).url = "http://user:secret@example.org/"
    report = tick(ctx, at(2026, 5, 4, 11, 0))
    assert report.queued == [] and "no longer accepted" in report.skipped[0][1]
    watch = watch_row(ctx, watch_id)
    assert watch.flagged and "user name or password" in watch.flag_reason
    assert capture_count(ctx) == 0

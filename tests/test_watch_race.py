"""Dispatchers racing for the same slots, on SQLite and on the real PostgreSQL.

Several dispatchers (threads, then separate processes), each with its own database
connections, start together behind a barrier with the same clock and the same due
watches. The unique (watch_id, slot) claim must let exactly one capture through per slot.
Without the unique claim every dispatcher that read the due list before the others
committed would queue its own capture of it, and these tests fail.
"""
from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from archiver.config import Settings
from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.models import Capture, WatchRun
from archiver.watches import create_watch, dispatch

WATCHES = 30
DISPATCHERS = 4
SLOT = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def never_robots(url, settings):
    raise AssertionError("these watches do not honour robots.txt")


def dispatch_once(settings: Settings, name: str, barrier, now: datetime) -> tuple[list, list]:
    """One dispatcher with its own engine: wait for the others, then dispatch."""
    engine = make_engine(settings.database_url)
    try:
        sessions = make_session_factory(engine)
        with sessions() as session:        # connect before the start line, not after it
            session.execute(select(1))
        queued: list[int] = []
        barrier.wait(timeout=60)
        report = dispatch(sessions, settings, queued.append, now=now, name=name,
                          robots=never_robots)
        return report.queued, [w for w, _ in report.claimed]
    finally:
        engine.dispose()


def _process_main(settings: Settings, name: str, barrier, results) -> None:
    try:
        results.put((name, dispatch_once(settings, name, barrier, SLOT), None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((name, None, repr(exc)))


@pytest.fixture
def race_settings(settings, database_url, fixture_site) -> Settings:
    racing = settings.with_overrides(database_url=database_url, host_min_interval=0,
                                     host_concurrency=10_000)
    migrate(racing.database_url)
    sessions = make_session_factory(make_engine(racing.database_url))
    with transaction(sessions) as session:
        for n in range(WATCHES):
            create_watch(session, {"url": fixture_site.url(f"/article?race={n}"),
                                   "cron": "*/5 * * * *", "respect_robots": False},
                         now=SLOT - timedelta(minutes=3))
    sessions.kw["bind"].dispose()
    return racing


def check_one_capture_per_slot(settings: Settings, queued_lists: list[list[int]]) -> None:
    all_queued = [cid for queued in queued_lists for cid in queued]
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            captures = session.scalar(select(func.count()).select_from(Capture))
            per_watch = session.execute(select(WatchRun.watch_id, func.count())
                                        .group_by(WatchRun.watch_id)).all()
            slots = set(session.scalars(select(WatchRun.slot)))
    finally:
        engine.dispose()
    assert len(all_queued) == len(set(all_queued)) == WATCHES, queued_lists
    assert captures == WATCHES
    assert len(per_watch) == WATCHES and all(count == 1 for _, count in per_watch), per_watch
    assert slots == {SLOT}


def test_dispatcher_threads_racing_queue_one_capture_per_slot(race_settings):
    barrier = threading.Barrier(DISPATCHERS)
    results: dict[str, tuple] = {}
    errors: list[BaseException] = []

    def run(name):
        try:
            results[name] = dispatch_once(race_settings, name, barrier, SLOT)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"thread-{i}",)) for i in range(DISPATCHERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == DISPATCHERS
    check_one_capture_per_slot(race_settings, [queued for queued, _ in results.values()])
    # and running the dispatcher again for the same minute adds nothing
    again = dispatch_once(race_settings, "late", threading.Barrier(1), SLOT)
    assert again == ([], [])


def test_dispatcher_processes_racing_queue_one_capture_per_slot(race_settings):
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(DISPATCHERS)
    results = mp.Queue()
    procs = [mp.Process(target=_process_main, args=(race_settings, f"process-{i}", barrier, results))
             for i in range(DISPATCHERS)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [error for _, _, error in outcomes if error]
    assert not errors, errors
    check_one_capture_per_slot(race_settings, [result[0] for _, result, _ in outcomes])

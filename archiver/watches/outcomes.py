"""Settling watch runs once their captures finish: success, failure, back-off, flagging.

A failure is a capture that failed or got an HTTP error status (400 and above). Each
failure in a row doubles the wait before the watch runs again (ARCHIVER_WATCH_BACKOFF,
then twice that, ..., at most a day); after ARCHIVER_WATCH_MAX_FAILURES in a row the
watch is flagged and no longer runs until a person resumes or edits it. A capture the
address guard refused (the site now leads to an internal address) flags the watch at once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.db import transaction
from archiver.models import (FAILED, FINAL_STATES, RUN_FAILED, RUN_OK, RUN_UNQUEUED, Capture,
                             Watch, WatchRun)
from archiver.watches.schedule import ScheduleError, next_slot

MAX_BACKOFF = timedelta(days=1)
GUARD_CODES = frozenset({"refused_address"})


def settle_runs(sessions: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Record the result of every run whose capture has finished; returns how many."""
    with sessions() as session:
        pending = session.execute(
            select(WatchRun.id, Capture.id).join(Capture, Capture.id == WatchRun.capture_id)
            .where(WatchRun.result.is_(None), Capture.state.in_(FINAL_STATES))
            .order_by(WatchRun.id)).all()
    settled = 0
    for run_id, capture_id in pending:
        with transaction(sessions) as session:
            settled += _settle(session, settings, run_id, capture_id, now)
    return settled


def run_result(capture: Capture) -> tuple[str, str | None]:
    if capture.state == FAILED and capture.error_code == "broker":
        return RUN_UNQUEUED, capture.error
    if capture.state == FAILED:
        return RUN_FAILED, f"{capture.error_code}: {capture.error}"
    if capture.http_status is not None and capture.http_status >= 400:
        return RUN_FAILED, f"the server answered HTTP {capture.http_status}"
    return RUN_OK, None


def _settle(session: Session, settings: Settings, run_id: int, capture_id: int,
            now: datetime) -> int:
    capture = session.get(Capture, capture_id)
    result, detail = run_result(capture)
    finished = capture.finished_at or now
    # conditional: two dispatchers settling at once count a run once
    taken = session.execute(
        update(WatchRun).where(WatchRun.id == run_id, WatchRun.result.is_(None))
        .values(result=result, detail=detail, finished_at=finished)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        return 0
    watch = session.get(Watch, session.get(WatchRun, run_id).watch_id)
    if watch is None:
        return 1
    watch.last_result = result
    if result == RUN_OK:
        watch.failure_count = 0
    elif result == RUN_FAILED:
        _failed(watch, settings, capture, detail or "", finished)
    return 1


def _failed(watch: Watch, settings: Settings, capture: Capture, detail: str,
            finished: datetime) -> None:
    watch.failure_count = (watch.failure_count or 0) + 1
    if capture.error_code in GUARD_CODES:
        watch.flagged = True
        watch.flag_reason = (f"capture {capture.id} was refused by the address guard: {capture.error} "
                             "The watched site now leads to an address the archive must not reach; "
                             "check the site, then resume or edit the watch.")
        return
    if watch.failure_count >= settings.watch_max_failures:
        watch.flagged = True
        watch.flag_reason = (f"{watch.failure_count} scheduled captures in a row failed "
                             f"(ARCHIVER_WATCH_MAX_FAILURES={settings.watch_max_failures}); the last: "
                             f"capture {capture.id}, {detail}. Resume the watch to try again.")
        return
    delay = min(timedelta(seconds=settings.watch_backoff * 2 ** (watch.failure_count - 1)),
                MAX_BACKOFF)
    try:
        later = next_slot(watch.cron, watch.timezone, finished + delay)
    except ScheduleError:
        return
    if watch.next_run_at is None or later > watch.next_run_at:
        watch.next_run_at = later

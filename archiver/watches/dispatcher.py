"""The dispatcher: once a minute (Celery beat), turn each due watch slot into one capture.

    report = dispatch(sessions, settings, enqueue, now=...)

The claim is one row in `watch_runs`, whose (watch_id, slot) is unique in the catalogue:
two dispatchers that both see a watch due both try to insert the row, and the database
lets exactly one of them commit it. The capture is stored in the same transaction as the
claim, through the submission path (archiver.submissions), and queued after the commit.

After downtime a watch has missed several slots; only the latest one is claimed, so a
stopped scheduler comes back with one catch-up capture per watch, not a burst.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.db import transaction
from archiver.models import RUN_FAILED, RUN_ROBOTS, Capture, Watch, WatchRun
from archiver.sites import site_of
from archiver.submissions import (SubmissionError, Submitter, queue_captures, store_captures,
                                  validate_urls)
from archiver.watches.outcomes import settle_runs
from archiver.watches.politeness import host_busy
from archiver.watches.robots import RobotsAnswer, RobotsRules, load_rules
from archiver.watches.schedule import ScheduleError, latest_slot, next_slot

RobotsLoader = Callable[[str, Settings], RobotsRules]


@dataclass
class DispatchReport:
    queued: list[int] = field(default_factory=list)                 # capture ids
    claimed: list[tuple[int, datetime]] = field(default_factory=list)  # (watch id, slot)
    lost: list[tuple[int, datetime]] = field(default_factory=list)  # another dispatcher had it
    deferred: list[tuple[int, str]] = field(default_factory=list)   # (watch id, why), politeness
    skipped: list[tuple[int, str]] = field(default_factory=list)    # (watch id, why), robots.txt
    settled: int = 0


class _Deferred(Exception):
    pass


def dispatcher_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch(sessions: sessionmaker[Session], settings: Settings, enqueue: Callable[[int], None],
             now: datetime | None = None, name: str | None = None,
             robots: RobotsLoader = load_rules) -> DispatchReport:
    """Settle finished runs, then claim and queue every due slot. Safe to run concurrently."""
    now = now or datetime.now(timezone.utc)
    name = name or dispatcher_name()
    report = DispatchReport(settled=settle_runs(sessions, settings, now))
    with sessions() as session:
        due = list(session.scalars(
            select(Watch).where(Watch.enabled.is_(True), Watch.flagged.is_(False),
                                Watch.next_run_at <= now).order_by(Watch.next_run_at, Watch.id)))
        by_host: dict[str | None, list[int]] = {}
        for watch_id, url in session.execute(select(Watch.id, Watch.url)):
            by_host.setdefault(site_of(url), []).append(watch_id)
    robots_rules: dict[str, RobotsRules] = {}      # one robots.txt fetch per host per run
    for watch in due:
        host_ids = by_host.get(site_of(watch.url), [watch.id])
        with sessions() as session:
            busy = host_busy(session, host_ids, settings, now)
        if busy:
            report.deferred.append((watch.id, busy))
            continue
        answer = None
        if watch.respect_robots:
            key = site_of(watch.url) or watch.url
            if key not in robots_rules:
                robots_rules[key] = robots(watch.url, settings)
            answer = robots_rules[key].answer(watch.url)
        try:
            slot = latest_slot(watch.cron, watch.timezone, now)
        except ScheduleError as exc:   # an expression that stopped working: leave it be
            report.deferred.append((watch.id, str(exc)))
            continue
        try:
            capture, skipped = _claim(sessions, settings, watch.id, slot, now, name, host_ids, answer)
        except IntegrityError:
            report.lost.append((watch.id, slot))
            continue
        except _Deferred as why:
            report.deferred.append((watch.id, str(why)))
            continue
        report.claimed.append((watch.id, slot))
        if capture is None:
            report.skipped.append((watch.id, skipped))
            continue
        queue_captures(sessions, [capture], enqueue)
        report.queued.append(capture.id)
    return report


def _claim(sessions: sessionmaker[Session], settings: Settings, watch_id: int, slot: datetime,
           now: datetime, name: str, host_ids: list[int],
           answer: RobotsAnswer | None) -> tuple[Capture | None, str]:
    """Claim (watch, slot) and store its capture in one transaction.

    Raises IntegrityError when the slot is already claimed, _Deferred when the host is
    busy or the watch changed meanwhile; either way nothing is written.
    Returns (capture, "") or, when the run made no capture (robots.txt disallowed it, or
    the URL is no longer accepted), (None, why); the run is recorded either way.
    """
    with transaction(sessions) as session:
        run = WatchRun(watch_id=watch_id, slot=slot, claimed_at=now, dispatcher=name)
        session.add(run)
        session.flush()      # the claim: the unique (watch_id, slot) lets one dispatcher through
        busy = host_busy(session, host_ids, settings, now)
        if busy:
            raise _Deferred(busy)
        watch = session.get(Watch, watch_id)
        if watch is None or not watch.enabled or watch.flagged:
            raise _Deferred("the watch was paused, flagged or deleted meanwhile")
        capture, skipped = None, ""
        try:
            urls = validate_urls([watch.url], max_urls=1)   # the rules may have changed since
        except SubmissionError as exc:
            skipped = f"the watched URL is no longer accepted: {exc}"
            run.result, run.detail, run.finished_at = RUN_FAILED, skipped, now
            watch.last_result, watch.flagged, watch.flag_reason = RUN_FAILED, True, skipped
        else:
            if answer is not None and not answer.allowed:
                skipped = answer.reason
                run.result, run.detail, run.finished_at = RUN_ROBOTS, answer.reason, now
                watch.last_result = RUN_ROBOTS
            else:
                [capture] = store_captures(
                    session, urls, watch.note,
                    Submitter(source="schedule", submitted_by=f"watch {watch.id}"),
                    watch_id=watch.id, now=now, mode=watch.mode or settings.capture_mode)
                run.capture_id = watch.last_capture_id = capture.id
        watch.last_run_at = now
        watch.next_run_at = next_slot(watch.cron, watch.timezone, now)
    return capture, skipped

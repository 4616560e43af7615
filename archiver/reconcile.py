"""The reconciler: the catalogue is the record of truth for jobs, the broker only a messenger.

A message can be lost (Redis restarted without persistence, a broker outage after the
commit, a worker killed while its task was unacknowledged), but the capture's row stays.
`reconcile` finds captures whose message may be gone and sends their task again:

- `queued` for longer than `reconcile_after` since it was queued or last sent;
- `fetching` for longer than the hard time limit: its worker died mid-capture (the claim
  lets another worker take such a capture over).

Sending twice is harmless: the claim (a conditional UPDATE) lets exactly one task run a
capture, and a task for a finished capture does nothing. Beat runs this every
`reconcile_interval` seconds (workers/tasks.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.db import transaction
from archiver.models import FETCHING, QUEUED, Capture

log = logging.getLogger(__name__)

BATCH = 1000      # captures re-sent per run at most, so one run stays short


@dataclass
class ReconcileReport:
    queued: list[int] = field(default_factory=list)     # re-sent while queued
    stalled: list[int] = field(default_factory=list)    # re-sent after their worker died
    failed_to_send: list[int] = field(default_factory=list)


def reconcile(sessions: sessionmaker[Session], settings: Settings, enqueue: Callable[[int], None],
              now: datetime | None = None) -> ReconcileReport:
    now = now or datetime.now(timezone.utc)
    quiet_since = now - timedelta(seconds=settings.reconcile_after)
    lease_ended = now - timedelta(seconds=settings.task_time_limit)
    report = ReconcileReport()
    waiting = (Capture.state == QUEUED) & (func.coalesce(Capture.sent_at, Capture.queued_at) < quiet_since)
    stalled = ((Capture.state == FETCHING) & (Capture.started_at < lease_ended)
               & or_(Capture.sent_at.is_(None), Capture.sent_at < lease_ended))
    for condition, bucket in ((waiting, report.queued), (stalled, report.stalled)):
        with sessions() as session:
            ids = session.scalars(select(Capture.id).where(condition).order_by(Capture.id).limit(BATCH)).all()
        for capture_id in ids:
            # Mark first, on the same condition: a second reconciler at once skips it.
            with transaction(sessions) as session:
                marked = session.execute(
                    update(Capture).where(Capture.id == capture_id).where(condition)
                    .values(sent_at=now).execution_options(synchronize_session=False)).rowcount
            if not marked:
                continue
            try:
                enqueue(capture_id)
            except Exception as exc:   # noqa: BLE001 - the broker is down: the next run tries again
                log.warning("could not send capture %s again: %s", capture_id, exc)
                report.failed_to_send.append(capture_id)
                continue
            bucket.append(capture_id)
    if report.queued or report.stalled:
        log.info("reconciler sent %d queued and %d stalled captures again",
                 len(report.queued), len(report.stalled))
    return report

"""Politeness towards a watched host: a minimum interval and a concurrency limit.

Only scheduled captures count (a person's own capture is never held back), and the
host is the watched URL's host. Called inside the claim's transaction, after the claim
row is written, so on SQLite the check and the claim share the writer lock.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.config import Settings
from archiver.models import FETCHING, QUEUED, Capture


RETRY_WAIT_BOUND = 600   # seconds: the longest wait between two attempts (workers/tasks.py)


def presumed_lost_after(settings: Settings) -> float:
    """Seconds after which an unfinished scheduled capture no longer counts as running."""
    return settings.max_attempts * (settings.task_time_limit + RETRY_WAIT_BOUND)


def host_busy(session: Session, watch_ids: list[int], settings: Settings,
              now: datetime) -> str | None:
    """Why a scheduled capture of this host must wait, or None when it may go now.

    `watch_ids` are the watches whose URL is on the host.
    """
    scheduled = Capture.watch_id.in_(watch_ids)
    # a capture unfinished for longer than all its attempts could take was lost (its
    # message or worker is gone): it stops holding the host
    lost_before = now - timedelta(seconds=presumed_lost_after(settings))
    running = session.scalar(select(func.count()).select_from(Capture).where(
        scheduled, Capture.state.in_((QUEUED, FETCHING)), Capture.queued_at > lost_before))
    if running >= settings.host_concurrency:
        return (f"{running} scheduled capture(s) of this host still running "
                f"(ARCHIVER_HOST_CONCURRENCY={settings.host_concurrency})")
    if settings.host_min_interval == 0:
        return None
    since = now - timedelta(seconds=settings.host_min_interval)
    recent = session.scalar(select(func.count()).select_from(Capture).where(
        scheduled, (Capture.queued_at > since) | (Capture.finished_at > since)))
    if recent:
        return (f"a scheduled capture of this host ran less than {settings.host_min_interval:g} s "
                "ago (ARCHIVER_HOST_MIN_INTERVAL)")
    return None

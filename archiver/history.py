"""Every capture of a URL over time, each marked against the one before it.

The marking is the one stored with the capture when it was made (archiver/changes.py);
captures catalogued before markings were stored are compared here, the same way.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiver.changes import compare
from archiver.models import CHANGED, FIRST, STORED, TEXT_UNCHANGED, UNCHANGED, Capture  # noqa: F401


@dataclass
class HistoryEntry:
    capture: Capture
    change: str | None      # FIRST, UNCHANGED (same bytes), TEXT_UNCHANGED, CHANGED; None if not stored
    previous_id: int | None


def url_history(session: Session, url: str, limit: int = 5000) -> list[HistoryEntry]:
    captures = session.scalars(
        select(Capture).where(or_(Capture.requested_url == url, Capture.final_url == url))
        .order_by(Capture.fetched_at.is_(None), Capture.fetched_at, Capture.id).limit(limit)).all()
    entries, previous = [], None
    for capture in captures:
        if capture.state != STORED:
            entries.append(HistoryEntry(capture, None, None))
            continue
        if capture.change is not None:
            entries.append(HistoryEntry(capture, capture.change, capture.previous_id))
        else:
            entries.append(HistoryEntry(capture, compare(capture, previous),
                                        previous.id if previous else None))
        previous = capture
    return entries


@dataclass
class DayBar:
    day: date
    count: int
    changed: bool


def captures_per_day(entries: list[HistoryEntry], max_days: int = 366) -> list[DayBar]:
    """One bar per day from the first capture to the last (the last `max_days` at most)."""
    days = [e.capture.fetched_at.date() for e in entries if e.capture.fetched_at]
    if not days:
        return []
    counts = Counter(days)
    changed = {e.capture.fetched_at.date() for e in entries
               if e.capture.fetched_at and e.change in (FIRST, CHANGED)}
    last = max(days)
    first = max(min(days), last - timedelta(days=max_days - 1))
    return [DayBar(first + timedelta(days=n), counts.get(first + timedelta(days=n), 0),
                   (first + timedelta(days=n)) in changed)
            for n in range((last - first).days + 1)]

"""How long the browser may take for one capture.

ARCHIVER_BROWSER_DEADLINE, counted from when Chromium is ready, but never more than the
task's soft time limit leaves once the page's own fetch is done, minus the most starting
Chromium may take, the time to take the screenshot and DOM, and the time to write the
records: a slow page is then stored, marked unsettled, instead of killed with its task.
"""
from __future__ import annotations

from datetime import datetime, timezone

from archiver.browser.render import FINISH_SECONDS
from archiver.config import Settings

WRITE_SECONDS = 10.0        # writing and cataloguing the records, with room to spare
LAUNCH_SECONDS = 30.0       # the most starting Chromium may take (archiver/browser/session.py)


def browser_seconds(settings: Settings, started_at: datetime | None) -> float:
    if started_at is None:
        return settings.browser_deadline
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=timezone.utc)
    spent = (datetime.now(timezone.utc) - started_at).total_seconds()
    left = (settings.task_soft_time_limit - spent - LAUNCH_SECONDS - FINISH_SECONDS
            - WRITE_SECONDS)
    return max(min(settings.browser_deadline, left), 0.0)

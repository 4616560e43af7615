"""Creating, changing and removing watches, with every field checked first."""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.models import Watch
from archiver.urls import InvalidURL, normalize_submitted_url
from archiver.watches.schedule import ScheduleError, check_cron, check_timezone, next_slot

EDITABLE = ("url", "cron", "timezone", "note", "enabled", "respect_robots", "webhook_url")
MAX_NOTE_CHARS = 10_000


class WatchError(ValueError):
    """A watch field is refused; `field` names it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _now() -> datetime:
    return datetime.now(timezone.utc)


def clean_fields(fields: dict, partial: bool = False) -> dict:
    """Validate watch fields given by a person; returns them normalised."""
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise WatchError(f"unknown field(s): {', '.join(unknown)}; accepted: {', '.join(EDITABLE)}")
    if not partial:
        for required in ("url", "cron"):
            if required not in fields:
                raise WatchError(f'"{required}" is required', field=required)
    clean: dict = {}
    for name, value in fields.items():
        if name in ("url", "webhook_url"):
            if name == "webhook_url" and value in (None, ""):
                clean[name] = None
                continue
            if not isinstance(value, str):
                raise WatchError(f'"{name}" must be a string', field=name)
            try:
                clean[name] = normalize_submitted_url(value)
            except InvalidURL as exc:
                raise WatchError(f"{name} is refused: {exc}", field=name) from None
        elif name == "cron":
            if not isinstance(value, str):
                raise WatchError('"cron" must be a string such as "0 */6 * * *"', field=name)
            try:
                clean[name] = check_cron(value)
            except ScheduleError as exc:
                raise WatchError(str(exc), field=name) from None
        elif name == "timezone":
            if not isinstance(value, str):
                raise WatchError('"timezone" must be a string such as "Europe/Paris"', field=name)
            try:
                check_timezone(value)
            except ScheduleError as exc:
                raise WatchError(str(exc), field=name) from None
            clean[name] = value
        elif name in ("enabled", "respect_robots"):
            if not isinstance(value, bool):
                raise WatchError(f'"{name}" must be true or false', field=name)
            clean[name] = value
        elif name == "note":
            if value is not None and not isinstance(value, str):
                raise WatchError('"note" must be a string', field=name)
            if value and len(value) > MAX_NOTE_CHARS:
                raise WatchError(f"note is longer than {MAX_NOTE_CHARS} characters", field=name)
            clean[name] = value or None
    return clean


def create_watch(session: Session, fields: dict, owner: str | None = None,
                 now: datetime | None = None) -> Watch:
    now = now or _now()
    clean = clean_fields(fields)
    watch = Watch(url=clean["url"], cron=clean["cron"], timezone=clean.get("timezone", "UTC"),
                  note=clean.get("note"), owner=owner, enabled=clean.get("enabled", True),
                  respect_robots=clean.get("respect_robots", True),
                  webhook_url=clean.get("webhook_url"),
                  webhook_secret=secrets.token_hex(32) if clean.get("webhook_url") else None,
                  failure_count=0, flagged=False, created_at=now, updated_at=now)
    watch.next_run_at = next_slot(watch.cron, watch.timezone, now)
    session.add(watch)
    session.flush()
    return watch


def update_watch(session: Session, watch: Watch, fields: dict, now: datetime | None = None) -> Watch:
    """Edit fields; resuming (enabled true) or editing a flagged watch clears the flag."""
    now = now or _now()
    clean = clean_fields(fields, partial=True)
    for name, value in clean.items():
        setattr(watch, name, value)
    if clean.get("webhook_url") and not watch.webhook_secret:
        watch.webhook_secret = secrets.token_hex(32)
    if clean and (clean.get("enabled") is True or set(clean) & {"url", "cron", "timezone"}):
        watch.flagged, watch.flag_reason, watch.failure_count = False, None, 0
    if set(clean) & {"cron", "timezone", "enabled"}:
        watch.next_run_at = next_slot(watch.cron, watch.timezone, now)
    watch.updated_at = now
    return watch


def watches(session: Session) -> list[Watch]:
    return list(session.scalars(select(Watch).order_by(Watch.id)))

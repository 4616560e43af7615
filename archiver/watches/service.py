"""Creating, changing and removing watches, with every field checked first."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from archiver.browser.modes import InvalidMode, check_mode
from archiver.models import Capture, Watch, WatchRun
from archiver.watches import watchlist
from archiver.urls import InvalidURL, normalize_submitted_url
from archiver.watches.schedule import ScheduleError, check_cron, check_timezone, next_slot

EDITABLE = ("url", "cron", "timezone", "note", "owner", "enabled", "respect_robots", "webhook_url",
            "mode")
MAX_NOTE_CHARS = 10_000
MAX_OWNER_CHARS = 255


class WatchError(ValueError):
    """A watch field is refused; `field` names it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _now() -> datetime:
    return datetime.now(timezone.utc)


def clean_fields(fields: dict, partial: bool = False) -> dict:
    """Validate watch fields given by a person; returns them normalised."""
    if not isinstance(fields, dict):
        raise WatchError("the watch must be a JSON object of fields")
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
            clean[name] = value or "UTC"
        elif name in ("enabled", "respect_robots"):
            if not isinstance(value, bool):
                raise WatchError(f'"{name}" must be true or false', field=name)
            clean[name] = value
        elif name == "owner":
            if value is not None and not isinstance(value, str):
                raise WatchError('"owner" must be a string', field=name)
            if value and len(value) > MAX_OWNER_CHARS:
                raise WatchError(f"owner is longer than {MAX_OWNER_CHARS} characters", field=name)
            clean[name] = value or None
        elif name == "mode":     # None: the default mode (ARCHIVER_CAPTURE_MODE) at each run
            try:
                clean[name] = check_mode(value, default=None)
            except InvalidMode as exc:
                raise WatchError(str(exc), field=name) from None
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
                  note=clean.get("note"), owner=clean.get("owner", owner),
                  enabled=clean.get("enabled", True),
                  respect_robots=clean.get("respect_robots", True),
                  webhook_url=clean.get("webhook_url"), mode=clean.get("mode"),
                  webhook_secret=secrets.token_hex(32) if clean.get("webhook_url") else None,
                  failure_count=0, flagged=False, created_at=now, updated_at=now)
    watch.next_run_at = next_slot(watch.cron, watch.timezone, now)
    session.add(watch)
    session.flush()
    return watch


def update_watch(session: Session, watch: Watch, fields: dict, now: datetime | None = None) -> Watch:
    """Edit fields. Resuming (enabled true) clears a flag, and so does changing the URL or
    the schedule; the next run is worked out again when the schedule or state changes."""
    now = now or _now()
    clean = clean_fields(fields, partial=True)
    changed = {name for name, value in clean.items() if getattr(watch, name) != value}
    for name in changed:
        setattr(watch, name, clean[name])
    if "webhook_url" in changed and watch.webhook_url:
        watch.webhook_secret = watch.webhook_secret or secrets.token_hex(32)
    resumed = clean.get("enabled") is True and (watch.flagged or "enabled" in changed)
    if resumed or changed & {"url", "cron", "timezone"}:
        watch.flagged, watch.flag_reason, watch.failure_count = False, None, 0
    if resumed or changed & {"cron", "timezone", "enabled"}:
        watch.next_run_at = next_slot(watch.cron, watch.timezone, now)
    if changed or resumed:
        watch.updated_at = now
    return watch


def watches(session: Session) -> list[Watch]:
    return list(session.scalars(select(Watch).order_by(Watch.id)))


def runs(session: Session, watch_id: int, limit: int = 200) -> list[WatchRun]:
    """A watch's history, newest first."""
    return list(session.scalars(select(WatchRun).where(WatchRun.watch_id == watch_id)
                                .order_by(WatchRun.slot.desc(), WatchRun.id.desc()).limit(limit)))


def delete_watch(session: Session, watch: Watch) -> None:
    """Remove the watch and its runs; its captures stay in the archive, unlinked."""
    session.execute(delete(WatchRun).where(WatchRun.watch_id == watch.id))
    session.execute(update(Capture).where(Capture.watch_id == watch.id).values(watch_id=None)
                    .execution_options(synchronize_session=False))
    session.delete(watch)


@dataclass
class ImportReport:
    added: list[int]
    updated: list[int]


def import_list(session: Session, text: str, owner: str | None = None,
                now: datetime | None = None) -> ImportReport:
    """Read a watch list (archiver.watches.watchlist) into the catalogue, all or nothing.

    A line whose URL and cron expression match an existing watch updates that watch;
    every other line adds one. Raises WatchListError or WatchError naming the line.
    """
    entries = watchlist.parse(text)
    cleaned = []
    for entry in entries:
        try:
            clean = clean_fields(entry.fields)
        except WatchError as exc:
            raise watchlist.WatchListError(entry.line_number, str(exc)) from None
        cleaned.append((entry, clean))
    existing = {(w.url, w.cron): w for w in watches(session)}
    report = ImportReport(added=[], updated=[])
    for entry, clean in cleaned:
        fields = {"timezone": "UTC", "enabled": True, "respect_robots": True,
                  "webhook_url": None, **entry.fields, "owner": entry.owner or owner}
        watch = existing.get((clean["url"], clean["cron"]))
        if watch is None:
            watch = create_watch(session, fields, now=now)
            existing[(watch.url, watch.cron)] = watch
            report.added.append(watch.id)
        else:
            if fields["enabled"] == watch.enabled:
                del fields["enabled"]          # an unchanged line does not resume a flagged watch
            update_watch(session, watch, fields, now=now)
            report.updated.append(watch.id)
    session.flush()
    return report


def export_list(session: Session) -> str:
    return watchlist.format_list(watches(session))

"""Cron expressions in a time zone: validating them, and finding their slots in UTC.

A slot is a moment a watch is due, as an aware UTC datetime. Slots are computed in the
watch's own time zone, so "0 6 * * *" in Europe/Paris is 06:00 Paris time all year.
Daylight-saving changes follow two rules (docs/watches.md):

- a wall-clock time that does not exist (clocks go forward) runs at the first moment
  after the gap, once;
- a wall-clock time that happens twice (clocks go back) runs once, the first time, for an
  expression with a fixed hour; an expression whose hour field is `*` or `*/n` runs
  every hour or more often and follows real time, so it runs in both copies of the hour.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

MAX_STEPS = 1000   # slots looked through to skip repeated wall-clock times


class ScheduleError(ValueError):
    """A cron expression or time zone that cannot be used; the message says why."""


MAX_CRON_CHARS = 120
MAX_ZONE_CHARS = 64


def check_cron(expression: str) -> str:
    expression = " ".join((expression or "").split())
    if len(expression) > MAX_CRON_CHARS:
        raise ScheduleError(f"cron expression is longer than {MAX_CRON_CHARS} characters")
    fields = expression.split(" ") if expression else []
    if len(fields) not in (5, 6):
        raise ScheduleError(
            f"cron expression {expression!r} must have 5 fields (minute hour day month weekday), "
            "e.g. '0 */6 * * *' for every six hours, or 6 with seconds last")
    try:
        valid = croniter.is_valid(expression)
    except Exception:   # noqa: BLE001 - croniter raises assorted errors for garbage
        valid = False
    if not valid:
        raise ScheduleError(f"cron expression {expression!r} is not valid: check each field's range "
                            "(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6)")
    try:
        croniter(expression, datetime(2026, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except Exception:   # noqa: BLE001 - e.g. "0 0 31 2 *": valid fields, never due
        raise ScheduleError(f"cron expression {expression!r} never comes due "
                            "(e.g. a day that month does not have)") from None
    return expression


def check_timezone(name: str) -> ZoneInfo:
    if len(name or "") > MAX_ZONE_CHARS or "\x00" in (name or ""):
        raise ScheduleError(f"unknown time zone {(name or '')[:MAX_ZONE_CHARS]!r}: use an IANA name "
                            "such as 'UTC', 'Europe/Paris' or 'America/New_York'")
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {name!r}: use an IANA name such as "
                            "'UTC', 'Europe/Paris' or 'America/New_York'") from None


def next_slot(expression: str, zone: str, after: datetime) -> datetime:
    """The first slot strictly after `after`, in UTC."""
    tz = check_timezone(zone)
    it = croniter(expression, after.astimezone(tz))
    for _ in range(MAX_STEPS):
        slot = it.get_next(datetime)
        if not _repeated_wall_time(expression, slot, tz):
            return slot.astimezone(timezone.utc)
    raise ScheduleError(f"cron expression {expression!r} has no usable slot")


def latest_slot(expression: str, zone: str, now: datetime) -> datetime:
    """The last slot at or before `now`, in UTC: missed slots collapse into this one."""
    tz = check_timezone(zone)
    it = croniter(expression, (now + timedelta(microseconds=1)).astimezone(tz))
    for _ in range(MAX_STEPS):
        slot = it.get_prev(datetime)
        if not _repeated_wall_time(expression, slot, tz):
            return slot.astimezone(timezone.utc)
    raise ScheduleError(f"cron expression {expression!r} has no usable slot")


def _repeated_wall_time(expression: str, slot: datetime, tz: ZoneInfo) -> bool:
    """True for the second occurrence of a wall-clock time when clocks went back, for an
    expression with a fixed hour (which is meant to run once at that time of day)."""
    hour_field = expression.split(" ")[1]
    if hour_field.startswith("*"):
        return False
    wall = slot.astimezone(tz).replace(tzinfo=None)
    first = wall.replace(fold=0, tzinfo=tz).utcoffset()
    second = wall.replace(fold=1, tzinfo=tz).utcoffset()
    return first != second and slot.utcoffset() == second

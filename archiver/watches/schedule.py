"""Cron expressions in a time zone: validating them, and finding their slots in UTC."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter


class ScheduleError(ValueError):
    """A cron expression or time zone that cannot be used; the message says why."""


def check_cron(expression: str) -> str:
    expression = " ".join((expression or "").split())
    fields = expression.split(" ") if expression else []
    if len(fields) not in (5, 6):
        raise ScheduleError(
            f"cron expression {expression!r} must have 5 fields (minute hour day month weekday), "
            "e.g. '0 */6 * * *' for every six hours, or 6 with seconds last")
    if not croniter.is_valid(expression):
        raise ScheduleError(f"cron expression {expression!r} is not valid: check each field's range "
                            "(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6)")
    return expression


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r}: use an IANA name such as "
                            "'UTC', 'Europe/Paris' or 'America/New_York'") from None


def next_slot(expression: str, zone: str, after: datetime) -> datetime:
    """The first slot strictly after `after`, in UTC."""
    local = after.astimezone(check_timezone(zone))
    return croniter(expression, local).get_next(datetime).astimezone(timezone.utc)


def latest_slot(expression: str, zone: str, now: datetime) -> datetime:
    """The last slot at or before `now`, in UTC: missed slots collapse into this one."""
    local = (now + timedelta(microseconds=1)).astimezone(check_timezone(zone))
    return croniter(expression, local).get_prev(datetime).astimezone(timezone.utc)

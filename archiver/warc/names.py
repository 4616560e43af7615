"""WARC file names: archiver-<UTC yyyymmddHHMMSSffffff>-<hostname>-<pid>-<serial>.warc.gz"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

PREFIX = "archiver"
SUFFIX = ".warc.gz"
OPEN_SUFFIX = ".open"
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
_NAME = re.compile(r"^archiver-(?P<stamp>\d{20})-(?P<host>[A-Za-z0-9._-]+)-(?P<pid>\d+)-(?P<serial>\d{5,})"
                   r"\.warc\.gz$")


def safe_hostname(hostname: str) -> str:
    """Letters, digits, dots and hyphens only (others become '_'), at most 63 characters."""
    cleaned = _UNSAFE.sub("_", hostname or "").strip("._-")[:63]
    return cleaned or "unknown-host"


def warc_filename(moment: datetime, hostname: str, pid: int, serial: int) -> str:
    stamp = moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S%f")
    return f"{PREFIX}-{stamp}-{safe_hostname(hostname)}-{pid}-{serial:05d}{SUFFIX}"


@dataclass(frozen=True)
class ParsedName:
    filename: str          # without ".open"
    hostname: str
    pid: int
    serial: int


def parse_filename(name: str) -> ParsedName | None:
    """The parts of one of our file names (with or without `.open`), or None if it is not one."""
    if name.endswith(OPEN_SUFFIX):
        name = name[: -len(OPEN_SUFFIX)]
    match = _NAME.match(name)
    if not match:
        return None
    return ParsedName(name, match["host"], int(match["pid"]), int(match["serial"]))

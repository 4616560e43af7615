"""Watch list files: one watch per line, crontab-like, plain text (docs/watches.md).

    # comments and blank lines are ignored
    */30 * * * *   https://www.bbc.com/news   tz=Europe/London   # BBC News front page
    0 7 * * 1-5    https://www.lemonde.fr/    tz=Europe/Paris robots=no paused

A line is: the cron expression (5 fields, or 6 with seconds last), the URL, then options
(`tz=ZONE`, `robots=yes|no`, `paused`, `owner=NAME`, `webhook=URL`), then optionally
`#` and a note to the end of the line. Option values are percent-encoded when they hold
spaces, '%' or '#'.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import quote, unquote

from archiver.models import Watch

HEADER = ("# archiver watch list: CRON (5 fields, or 6 with seconds last)  URL  [options]  "
          "[# note]\n# options: tz=ZONE robots=yes|no paused owner=NAME webhook=URL "
          "(see docs/watches.md)\n")
_NOTE = re.compile(r"\s#")
_SAFE = "/:@!$&'()*+,;=?-._~"


class WatchListError(ValueError):
    """A line of a watch list cannot be read; the message names the line."""

    def __init__(self, line_number: int, message: str):
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number


@dataclass(frozen=True)
class Entry:
    line_number: int
    fields: dict          # as archiver.watches.service.clean_fields takes them
    owner: str | None = None


def parse(text: str) -> list[Entry]:
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        note = None
        match = _NOTE.search(line)
        if match:
            line, note = line[:match.start()], line[match.end():].strip() or None
        tokens = line.split()
        url_at = next((i for i, t in enumerate(tokens)
                       if t.lower().startswith(("http://", "https://"))), None)
        if url_at is None:
            raise WatchListError(number, "no http:// or https:// URL on the line; write "
                                         "CRON URL [options] [# note]")
        if url_at not in (5, 6):
            raise WatchListError(number, f"{url_at} cron fields before the URL; write 5 "
                                         "(minute hour day month weekday) or 6 (seconds last)")
        fields: dict = {"cron": " ".join(tokens[:url_at]), "url": tokens[url_at], "note": note}
        owner = None
        for option in tokens[url_at + 1:]:
            key, sep, value = option.partition("=")
            value = unquote(value)
            if option == "paused":
                fields["enabled"] = False
            elif key == "tz" and sep:
                fields["timezone"] = value
            elif key == "robots" and value in ("yes", "no"):
                fields["respect_robots"] = value == "yes"
            elif key == "owner" and sep:
                owner = value or None
            elif key == "webhook" and sep:
                fields["webhook_url"] = value or None
            elif key == "mode" and value in ("plain", "browser"):
                fields["mode"] = value
            else:
                raise WatchListError(number, f"unknown option {option!r}; options are tz=ZONE, "
                                             "robots=yes|no, paused, owner=NAME, webhook=URL, "
                                             "mode=plain|browser")
        entries.append(Entry(number, fields, owner))
    return entries


def format_watch(watch: Watch) -> str:
    parts = [watch.cron, watch.url, f"tz={watch.timezone}"]
    if not watch.respect_robots:
        parts.append("robots=no")
    if not watch.enabled:
        parts.append("paused")
    if watch.owner:
        parts.append(f"owner={quote(watch.owner, safe=_SAFE)}")
    if watch.webhook_url:
        parts.append(f"webhook={quote(watch.webhook_url, safe=_SAFE)}")
    if watch.mode:
        parts.append(f"mode={watch.mode}")
    line = "  ".join(parts)
    if watch.note:
        line += "  # " + " ".join(watch.note.split())
    return line


def format_list(watches: Iterable[Watch]) -> str:
    return HEADER + "".join(format_watch(w) + "\n" for w in watches)

"""Whether robots.txt lets a scheduled capture fetch a URL (RFC 9309).

robots.txt is fetched with the archive's own fetcher, so it passes the address guard
like any capture. An answer of 4xx means there are no rules (allowed); a server error
or no answer at all means "unreachable", which RFC 9309 says to treat as a complete
disallow, so the run is skipped rather than guessed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from archiver.config import Settings
from archiver.fetch import DecodeError, FetchResult, decode_content, fetch

MAX_ROBOTS_BYTES = 500 * 1024   # RFC 9309 asks parsers to read at least 500 KiB
PRODUCT_TOKEN = "archiver"


@dataclass(frozen=True)
class RobotsAnswer:
    allowed: bool
    reason: str


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


class RobotsRules:
    """The rules of one host's robots.txt, or the reason every URL of it is refused."""

    def __init__(self, where: str, parser: RobotFileParser | None = None,
                 allow_all: str | None = None, deny_all: str | None = None):
        self.where, self._parser, self._allow_all, self._deny_all = where, parser, allow_all, deny_all

    @classmethod
    def denying(cls, where: str, reason: str) -> "RobotsRules":
        return cls(where, deny_all=reason)

    def answer(self, url: str) -> RobotsAnswer:
        if self._deny_all:
            return RobotsAnswer(False, self._deny_all)
        if self._allow_all or self._parser is None:
            return RobotsAnswer(True, self._allow_all or f"{self.where}: no rules")
        if self._parser.can_fetch(PRODUCT_TOKEN, url):
            return RobotsAnswer(True, f"{self.where} allows it")
        return RobotsAnswer(False, f"{self.where} disallows {url} for {PRODUCT_TOKEN}")


def load_rules(url: str, settings: Settings,
               fetcher: Callable[[str, Settings], FetchResult] = fetch) -> RobotsRules:
    """Fetch the robots.txt of `url`'s host (through the address guard) and read it."""
    where = robots_url(url)
    unreachable = "an unreachable robots.txt counts as disallowing (RFC 9309)"
    result = fetcher(where, settings)
    try:
        final = result.final
        if final is None or final.status is None:
            return RobotsRules.denying(
                where, f"{where} could not be fetched ({result.error or 'no answer'}); {unreachable}")
        if 400 <= final.status < 500:
            return RobotsRules(where, allow_all=f"{where} answered {final.status}: no rules")
        if final.status >= 500 or result.error_code:
            detail = f" ({result.error})" if result.error else ""
            return RobotsRules.denying(where, f"{where} answered {final.status}{detail}; {unreachable}")
        try:
            body = decode_content(final, MAX_ROBOTS_BYTES * 4)[:MAX_ROBOTS_BYTES]
        except DecodeError as exc:
            return RobotsRules.denying(where, f"{where} could not be decoded ({exc}); {unreachable}")
    finally:
        result.close()
    parser = RobotFileParser()
    parser.parse(body.decode("utf-8", errors="replace").splitlines())
    return RobotsRules(where, parser=parser)

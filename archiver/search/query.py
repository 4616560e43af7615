"""What a researcher asks the search for, and what comes back."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

SORTS = ("relevance", "date")
MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 500
# Sentinels around matched words in snippets; turned into <mark> only after escaping.
MARK_START, MARK_END = "\x02", "\x03"


class QueryError(ValueError):
    """The query cannot be run as given; the message says what to change."""


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    site: str | None = None            # host name; subdomains included
    since: datetime | None = None      # captured at or after (UTC)
    until: datetime | None = None      # captured before (UTC)
    status: int | None = None          # HTTP status of the capture
    content_type: str | None = None    # prefix, e.g. "text/html" or "application/pdf"
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20

    def __post_init__(self):
        if len(self.text) > MAX_QUERY_CHARS:
            raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.page < 1:
            raise QueryError("page starts at 1")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise QueryError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if self.since and self.until and self.since >= self.until:
            raise QueryError("'since' must be before 'until'")
        if self.status is not None and not 100 <= self.status <= 599:
            raise QueryError("status must be an HTTP status between 100 and 599")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def terms(self) -> list[tuple[str, bool]]:
        """The query as (words, is_phrase) pairs; every other character is ignored."""
        found = []
        for phrase, word in re.findall(r'"([^"]*)"|(\S+)', self.text):
            if phrase:
                words = re.findall(r"\w+", phrase)
                if words:
                    found.append((" ".join(words), len(words) > 1))
            else:
                found.extend((w, False) for w in re.findall(r"\w+", word))
        return found


@dataclass
class SearchHit:
    capture_id: int
    url: str
    title: str | None
    captured_at: datetime | None
    http_status: int | None
    content_type: str | None
    score: float | None
    snippet: str = ""                  # with MARK_START/MARK_END around matches
    change: str | None = None          # marking against the previous capture (archiver/changes.py)

    @property
    def snippet_text(self) -> str:
        return self.snippet.replace(MARK_START, "").replace(MARK_END, "")

    @property
    def snippet_html(self) -> str:
        escaped = html.escape(self.snippet)
        return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


@dataclass
class SearchPage:
    query: SearchQuery
    total: int                         # exact, or a lower bound when total_exact is False
    hits: list[SearchHit] = field(default_factory=list)
    total_exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


PARAMS = ("q", "site", "since", "until", "status", "type", "sort", "page", "per_page")


def query_from_params(params) -> SearchQuery:
    """A SearchQuery from URL parameters (q, site, since, until, status, type, sort, page,
    per_page); every bad value is a QueryError naming the parameter."""
    def integer(name: str, default: int | None) -> int | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return default
        try:
            return int(raw)
        except ValueError:
            raise QueryError(f"{name} must be a whole number, not {raw!r}") from None

    def moment(name: str) -> datetime | None:
        raw = (params.get(name) or "").strip()
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"{name} must be a date like 2026-03-01 or 2026-03-01T12:00:00Z, "
                             f"not {raw!r}") from None
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    return SearchQuery(
        text=(params.get("q") or "").strip(),
        site=(params.get("site") or "").strip() or None,
        since=moment("since"), until=moment("until"),
        status=integer("status", None),
        content_type=(params.get("type") or "").strip() or None,
        sort=(params.get("sort") or "relevance").strip(),
        page=integer("page", 1), per_page=integer("per_page", 20))

"""Filter values as index tokens, so the full-text index itself narrows a filtered search.

Each stored capture's `facets` column holds one token per filterable fact (its site and
every parent domain, its status, its media type and top-level type, the month it was
captured). A filter becomes `facets : token` in the FTS5 query, intersected inside the
index instead of row by row. Tokens are letters and hex digits, so the tokenizer keeps
them whole and no user word can equal one (words are searched in the other columns only).
"""
from __future__ import annotations

from datetime import datetime, timezone

from archiver.search.query import SearchQuery

# A date range longer than this is checked row by row only.
MAX_MONTHS_AS_TOKENS = 36


def _hex(value: str) -> str:
    return value.encode("utf-8").hex()


def site_tokens(site: str | None) -> list[str]:
    if not site:
        return []
    labels = site.lower().rstrip(".").split(".")
    return [f"s{_hex('.'.join(labels[n:]))}" for n in range(len(labels))]


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None


def type_tokens(content_type: str | None) -> list[str]:
    mtype = media_type(content_type)
    if not mtype:
        return []
    tokens = [f"t{_hex(mtype)}"]
    if "/" in mtype:
        tokens.append(f"t{_hex(mtype.split('/', 1)[0])}")
    return tokens


def month_token(when: datetime) -> str:
    return f"m{when:%Y%m}"


def capture_facets(site: str | None, status: int | None, content_type: str | None,
                   fetched_at: datetime | None) -> str:
    tokens = site_tokens(site) + type_tokens(content_type)
    if status is not None:
        tokens.append(f"h{status}")
    if fetched_at is not None:
        tokens.append(month_token(fetched_at))
    return " ".join(tokens)


def _months(since: datetime | None, until: datetime | None) -> list[str] | None:
    if since is None and until is None:
        return None
    start = (since or datetime(1990, 1, 1, tzinfo=timezone.utc)).astimezone(timezone.utc)
    end = (until or datetime.now(timezone.utc)).astimezone(timezone.utc)
    year, month, months = start.year, start.month, []
    while (year, month) <= (end.year, end.month):
        months.append(f"m{year:04d}{month:02d}")
        if len(months) > MAX_MONTHS_AS_TOKENS:
            return None
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def facet_expression(query: SearchQuery) -> tuple[str, bool]:
    """(FTS5 expression over the facets column, whether rows still need an exact check)."""
    parts, recheck = [], False
    if query.site:
        parts.append(site_tokens(query.site)[0])
    if query.status is not None:
        parts.append(f"h{query.status}")
    if query.content_type:
        wanted = media_type(query.content_type)
        parts.append(f"t{_hex(wanted)}")
    months = _months(query.since, query.until)
    if months is not None:
        parts.append("(" + " OR ".join(months) + ")")
    if query.since or query.until:
        recheck = True      # months are coarser than the dates asked for
    if not parts:
        return "", recheck
    return "facets : (" + " AND ".join(parts) + ")", recheck

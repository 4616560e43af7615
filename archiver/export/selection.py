"""Which captures go into a package: by id, or every match of a search up to a cap."""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archiver.models import Capture, CaptureRecord
from archiver.search import SearchQuery, search_index_for
from archiver.search.query import MAX_PER_PAGE

# A search result is packaged whole or not at all; beyond this many matches, narrow it.
MAX_SEARCH_CAPTURES = 500


class TooManyMatches(ValueError):
    """The search matches more captures than one package may hold."""

    def __init__(self, total: int, exact: bool, limit: int):
        self.total, self.exact, self.limit = total, exact, limit
        more = "more than " if not exact else ""
        super().__init__(f"the search matches {more}{total:,} captures; a WACZ package holds at most "
                         f"{limit:,}: narrow the search (site, since, until, status, type or more words)")


def load_captures(session: Session, ids: list[int]) -> list[Capture]:
    """The captures with these ids, in that order, with their records and WARC files loaded
    (usable after the session closes). Ids with no row are left out."""
    rows = session.scalars(select(Capture).where(Capture.id.in_(ids)).options(
        selectinload(Capture.records).selectinload(CaptureRecord.warc_file),
        selectinload(Capture.warc_file),
        # a revisit's package also holds the response record it refers to (wacz.py)
        selectinload(Capture.revisited).selectinload(Capture.records)
        .selectinload(CaptureRecord.warc_file))).all()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def matching_capture_ids(session: Session, query: SearchQuery,
                         limit: int = MAX_SEARCH_CAPTURES) -> list[int]:
    """Every capture the search matches, in the search's order, whatever page `query` names.

    Raises TooManyMatches when there are more than `limit`.
    """
    index = search_index_for(session)
    ids: list[int] = []
    seen: set[int] = set()
    page_number = 1
    while True:
        page = index.search(session, replace(query, page=page_number, per_page=MAX_PER_PAGE))
        if page.total > limit or not page.total_exact:
            raise TooManyMatches(page.total, page.total_exact, limit)
        for hit in page.hits:
            if hit.capture_id not in seen:
                seen.add(hit.capture_id)
                ids.append(hit.capture_id)
        if len(page.hits) < MAX_PER_PAGE or page_number >= page.pages:
            return ids[:limit]
        page_number += 1

"""How a capture compares with the previous stored capture of its URL (docs/changes.md).

The marking is decided once, when the capture is stored, and kept on the row
(`Capture.change`, `Capture.previous_id`): history, search, feeds and alerts read it.

- `first`: no earlier stored capture of the final URL;
- `unchanged`: the payload (entity body) has the same sha256;
- `text unchanged`: the bytes differ but the extracted text has the same sha256
  (rotating ads, timestamps, tokens);
- `changed`: the text differs, or the bytes differ and there is no text to compare.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Collection

from sqlalchemy import bindparam, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from archiver.models import CHANGED, FIRST, STORED, TEXT_UNCHANGED, UNCHANGED, Capture

MARKINGS = (FIRST, UNCHANGED, TEXT_UNCHANGED, CHANGED)


def _previous_query(bounded: bool, saved: bool):
    # the id only: most captures have no previous one, and loading none costs less than
    # the ORM's statement for a whole row (the row is then taken by its id)
    query = (select(Capture.id)
             .where(Capture.state == STORED, Capture.final_url == bindparam("final_url"),
                    Capture.http_status.is_not(None)))
    if saved:       # a capture not yet added (an import) has no id to leave out
        query = query.where(Capture.id != bindparam("capture_id"))
    if bounded:
        query = query.where(Capture.fetched_at <= bindparam("fetched_at"))
    return query.order_by(Capture.fetched_at.desc(), Capture.id.desc()).limit(1)


# built once: a capture asks for its previous one each time it is stored
_PREVIOUS = {(bounded, saved): _previous_query(bounded, saved)
             for bounded in (False, True) for saved in (False, True)}


def previous_capture(session: Session, capture: Capture) -> Capture | None:
    """The latest stored capture of the same final URL fetched before `capture`."""
    if not capture.final_url:
        return None
    previous_id = _previous_id(session.connection(), capture)
    return session.get(Capture, previous_id) if previous_id is not None else None


@lru_cache(maxsize=64)
def _latest_of(count: int):
    """The latest stored capture of each of `count` final URLs (`url0`...): the query of
    previous_capture without its bounds, once per URL, in one UNION ALL."""
    def latest(n: int):
        return (select(Capture.id, Capture.final_url, Capture.fetched_at)
                .where(Capture.state == STORED, Capture.final_url == bindparam(f"url{n}"),
                       Capture.http_status.is_not(None))
                .order_by(Capture.fetched_at.desc(), Capture.id.desc()).limit(1).subquery())
    parts = [select(*latest(n).c) for n in range(count)]
    return parts[0] if count == 1 else union_all(*parts)


class PreviousCaptures:
    """previous_capture() for the captures of one task, their URLs looked up together.

    `load` reads the latest stored capture of each URL the task was given, in one
    statement, just after the claim has committed (archiver/capture.py): a read, outside
    the writer lock. A capture of one of those URLs that another worker stores between
    the claim and the load is found (one stored later is not, as when the load ran inside
    the claim: the captures being fetched are not stored yet either way); none of the
    task's own is stored before the load, and none of the captures found can have been
    fetched after the task's, which are fetched later. A capture whose final URL is not
    one of them (a redirect), that was fetched before the one found, or whose URL a
    capture stored since has (`stored_since`: the task's own, stored first,
    archiver/storing.py `holds_final_url`) is asked about on its own.
    """

    def __init__(self) -> None:
        self._found: dict[str, tuple[int, datetime | None] | None] = {}

    def load(self, connection: Connection, urls: Collection[str | None]) -> None:
        wanted = sorted({url for url in urls if url})
        self._found = dict.fromkeys(wanted)
        if wanted:
            params = {f"url{n}": url for n, url in enumerate(wanted)}
            rows = connection.execute(_latest_of(len(wanted)), params)
            self._found.update((row.final_url, (row.id, row.fetched_at)) for row in rows)

    def previous_id(self, sessions: sessionmaker[Session], capture: Capture,
                    stored_since: Collection[str] = ()) -> int | None:
        """The id previous_capture() would give, asking the catalogue only when needed."""
        url = capture.final_url
        if not url:
            return None
        if url in self._found and url not in stored_since:
            found = self._found[url]
            if found is None:
                return None
            found_id, found_at = found
            if found_id != capture.id and (capture.fetched_at is None
                                           or (found_at is not None and found_at <= capture.fetched_at)):
                return found_id
        with sessions() as session:
            return _previous_id(session.connection(), capture)


def _previous_id(connection: Connection, capture: Capture) -> int | None:
    params = {"final_url": capture.final_url, "capture_id": capture.id, "fetched_at": capture.fetched_at}
    query = _PREVIOUS[capture.fetched_at is not None, capture.id is not None]
    return connection.execute(query, params).scalar()


def compare(capture: Capture, previous: Capture | None) -> str:
    """The marking of `capture` against `previous` (both with their fetch fields filled)."""
    if previous is None:
        return FIRST
    if capture.payload_sha256 and capture.payload_sha256 == previous.payload_sha256:
        return UNCHANGED
    if capture.text_sha256 and capture.text_sha256 == previous.text_sha256:
        return TEXT_UNCHANGED
    return CHANGED

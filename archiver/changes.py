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

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

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
    params = {"final_url": capture.final_url, "capture_id": capture.id, "fetched_at": capture.fetched_at}
    query = _PREVIOUS[capture.fetched_at is not None, capture.id is not None]
    previous_id = session.connection().execute(query, params).scalar()
    return session.get(Capture, previous_id) if previous_id is not None else None


def compare(capture: Capture, previous: Capture | None) -> str:
    """The marking of `capture` against `previous` (both with their fetch fields filled)."""
    if previous is None:
        return FIRST
    if capture.payload_sha256 and capture.payload_sha256 == previous.payload_sha256:
        return UNCHANGED
    if capture.text_sha256 and capture.text_sha256 == previous.text_sha256:
        return TEXT_UNCHANGED
    return CHANGED

"""New capture rows written in one pass, each with the id the database would have given it.

SQLAlchemy's INSERT ... RETURNING of many rows, in order, runs one statement per row on
SQLite (which does not define the order of RETURNING) and walks every bind of every row on
both databases. Here the ids are taken first, ascending in the order of the rows, and the
rows then go in with their ids (archiver/bulk_insert.py): the same rows and the same ids,
for a fraction of the Python.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from archiver.bulk_insert import BulkInsert
from archiver.models import Capture

# what a submission gives a new capture; every other column starts empty
SUBMITTED_COLUMNS = ("state", "source", "submitted_by", "remote_addr", "note", "requested_url", "site",
                     "watch_id", "mode", "queued_at", "attempts")
_INSERT = BulkInsert(Capture.__table__, ("id", *SUBMITTED_COLUMNS))

# PostgreSQL: the serial's next values, which no other transaction can be given
_NEXT_IDS_POSTGRESQL = text("SELECT nextval(pg_get_serial_sequence('captures', 'id')) "
                            "FROM generate_series(1, :count)")
# SQLite gives a new row the largest id plus one. A write statement takes the write lock
# even when it changes nothing, so no other writer can insert between reading that id and
# inserting after it; the lock is held until the caller's transaction ends.
_TAKE_WRITE_LOCK = text("UPDATE captures SET state = state WHERE id = -1")
_NEXT_ID_SQLITE = text("SELECT coalesce(max(id), 0) + 1 FROM captures")


def next_capture_ids(session: Session, count: int) -> list[int]:
    """Ids for `count` new captures, ascending, in the caller's transaction."""
    if count <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return sorted(connection.execute(_NEXT_IDS_POSTGRESQL, {"count": count}).scalars())
    connection.execute(_TAKE_WRITE_LOCK)
    first = connection.execute(_NEXT_ID_SQLITE).scalar_one()
    return list(range(first, first + count))


def insert_captures(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows that give "id" (next_capture_ids) and every SUBMITTED_COLUMNS value."""
    _INSERT.execute(session.connection(), rows)

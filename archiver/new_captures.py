"""New capture rows written in one pass, each with the id the database would have given it.

SQLAlchemy's INSERT ... RETURNING of many rows, in order, runs one statement per row on
SQLite (which does not define the order of RETURNING) and walks every bind of every row on
both databases. Here PostgreSQL gets one INSERT from column arrays (archiver/bulk_insert.py)
whose serial numbers the rows in their order, so the ids it returns, sorted, are the
rows' ids in order: what SQLAlchemy's ordered RETURNING relies on there too. SQLite, which
gives a new row the largest id plus one, gets that id read under its write lock and the
rows with their ids in one executemany (archiver/driver_rows.py).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from archiver.bulk_insert import columns_of, rows_from_columns
from archiver.driver_rows import DriverRows
from archiver.models import Capture

_TABLE = Capture.__table__
# what a submission gives a new capture; every other column starts empty
SUBMITTED_COLUMNS = ("state", "source", "submitted_by", "remote_addr", "note", "requested_url", "site",
                     "watch_id", "mode", "queued_at", "attempts")

_FROM_COLUMNS = (insert(_TABLE).from_select(SUBMITTED_COLUMNS, rows_from_columns(_TABLE, SUBMITTED_COLUMNS))
                 .returning(_TABLE.c.id))
_ONE_ROW = insert(_TABLE).returning(_TABLE.c.id)
_WITH_IDS = DriverRows(insert(_TABLE), ("id", *SUBMITTED_COLUMNS))
# A write statement takes SQLite's write lock even when it changes nothing, so no other
# writer can insert between reading the largest id and inserting after it; the lock is
# held until the caller's transaction ends.
_TAKE_WRITE_LOCK = text("UPDATE captures SET state = state WHERE id = -1")
_NEXT_ID = text("SELECT coalesce(max(id), 0) + 1 FROM captures")


def insert_captures(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert rows that each give every SUBMITTED_COLUMNS value, in the caller's
    transaction; returns their ids, in the order of the rows (ascending)."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(rows) == 1:     # costs less than arrays
        return [connection.execute(_ONE_ROW, rows[0]).scalar_one()]
    if connection.dialect.name == "postgresql":
        return sorted(connection.execute(_FROM_COLUMNS, columns_of(rows, SUBMITTED_COLUMNS)).scalars())
    connection.execute(_TAKE_WRITE_LOCK)
    first = connection.execute(_NEXT_ID).scalar_one()
    ids = list(range(first, first + len(rows)))
    _WITH_IDS.execute(connection, [{**row, "id": capture_id} for capture_id, row in zip(ids, rows)])
    return ids

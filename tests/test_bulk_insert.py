"""BulkInsert and insert_captures store what SQLAlchemy's own executemany stores, value for
value and in the order of the rows, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
import sqlite3

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from archiver.bulk_insert import BulkInsert
from archiver.db import make_engine, migrate
from archiver.ledger.log import _PENDING_INSERT
from archiver.ledger.models import LedgerPending
from archiver.models import Capture
from archiver.new_captures import _TAKE_WRITE_LOCK, SUBMITTED_COLUMNS, insert_captures
from tests.test_driver_rows import _column_value, _json_value, _stored, engine  # noqa: F401


def _filled(rng: random.Random, column):
    """A random value of the column's type; never None where the column forbids it."""
    value = _column_value(rng, column)
    while value is None and not column.nullable:
        value = _column_value(rng, column)
    return value


@pytest.mark.parametrize("count", [1, 300])       # one row goes as a plain INSERT
def test_pending_events_are_sqlalchemys(engine, count):
    """Datetimes in other zones, JSON with non-ASCII text, JSON null and nesting; the
    serial ids number the rows in the order given (the log sequences them by it)."""
    table = LedgerPending.__table__

    def rows():
        rng = random.Random(5)       # the same values both times
        return [{"recorded_at": _filled(rng, table.c.recorded_at), "event": rng.choice(["submitted", "é"]),
                 "capture_id": rng.choice([None, n]), "agent": _json_value(rng),
                 "details": {"n": n, "value": _json_value(rng)}} for n in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(table), rows())
        _PENDING_INSERT.execute(connection, rows())
        stored = _stored(connection, table, "id")
    # ordered by id, the rows are in the order given, both ways
    assert [r[1:] for r in stored[:count]] == [r[1:] for r in stored[count:]]


@pytest.mark.parametrize("count", [1, 120])
def test_new_capture_rows_are_sqlalchemys(engine, count):
    """insert_captures (new_captures.py, from column arrays on PostgreSQL) stores what
    SQLAlchemy stores and returns each row's id in the order of the rows."""
    table = Capture.__table__

    def rows():
        rng = random.Random(9)
        return [{**{name: _filled(rng, table.c[name]) for name in SUBMITTED_COLUMNS}, "watch_id": None,
                 "requested_url": f"https://example.org/{n}"} for n in range(count)]
    with Session(engine) as session, session.begin():
        session.execute(insert(table), rows())
        ids = insert_captures(session, rows())
        stored = _stored(session.connection(), table, "id")
        urls = dict(session.execute(select(table.c.id, table.c.requested_url)).all())
    assert ids == list(range(count + 1, 2 * count + 1))
    assert [urls[i] for i in ids] == [f"https://example.org/{n}" for n in range(count)]
    assert [r[1:] for r in stored[:count]] == [r[1:] for r in stored[count:]]


def test_no_rows_runs_nothing(engine):
    with engine.begin() as connection:
        _PENDING_INSERT.execute(connection, [])
        assert connection.execute(select(LedgerPending.__table__.c.id)).first() is None


def test_json_alone_is_refused():
    with pytest.raises(ValueError):
        BulkInsert(LedgerPending.__table__, ["agent", "details"])


def test_sqlite_ids_are_read_under_the_write_lock(tmp_path):
    """The statement insert_captures starts with takes SQLite's write lock though it changes
    nothing: another writer waits until the transaction ends, so the largest id it reads
    stays the largest until its rows are in."""
    url = f"sqlite:///{tmp_path / 'catalogue.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    other = sqlite3.connect(tmp_path / "catalogue.sqlite3", timeout=0, isolation_level=None)
    try:
        with engine.begin() as connection:
            connection.execute(_TAKE_WRITE_LOCK)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        engine.dispose()

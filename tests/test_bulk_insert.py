"""BulkInsert stores what SQLAlchemy's own executemany stores, value for value and in the
order of the rows, on SQLite and PostgreSQL, for the two tables that use it."""
from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select

from archiver.bulk_insert import BulkInsert
from archiver.ledger.log import _PENDING_INSERT
from archiver.ledger.models import LedgerPending
from archiver.models import Capture
from archiver.new_captures import _INSERT as _CAPTURE_INSERT
from archiver.new_captures import SUBMITTED_COLUMNS
from tests.test_driver_rows import _column_value, _json_value, _stored, engine  # noqa: F401

T0 = datetime(2021, 1, 1, tzinfo=timezone.utc)


def _filled(rng: random.Random, column):
    """A random value of the column's type; never None where the column forbids it."""
    value = _column_value(rng, column)
    while value is None and not column.nullable:
        value = _column_value(rng, column)
    return value


def _both_ways(connection, table, rows, bulk: BulkInsert, order: str = "id"):
    """The stored rows, written once by SQLAlchemy and once by `bulk`."""
    connection.execute(insert(table), rows[0])
    bulk.execute(connection, rows[1])
    return _stored(connection, table, order)


def test_pending_events_are_sqlalchemys(engine):
    """Datetimes in other zones, JSON with non-ASCII text, JSON null and nesting; the
    serial ids number the rows in the order given (the log sequences them by it)."""
    table = LedgerPending.__table__

    def rows():
        rng = random.Random(5)       # the same values both times
        return [{"recorded_at": _filled(rng, table.c.recorded_at), "event": rng.choice(["submitted", "é"]),
                 "capture_id": rng.choice([None, n]), "agent": _json_value(rng),
                 "details": {"n": n, "value": _json_value(rng)}} for n in range(300)]
    with engine.begin() as connection:
        stored = _both_ways(connection, table, (rows(), rows()), _PENDING_INSERT)
    assert [r[1:] for r in stored[:300]] == [r[1:] for r in stored[300:]]
    assert [r[0] for r in stored[300:]] == sorted(r[0] for r in stored[300:])


def test_new_capture_rows_are_sqlalchemys(engine):
    table = Capture.__table__

    def rows(first_id):
        rng = random.Random(9)
        return [{**{name: _filled(rng, table.c[name]) for name in SUBMITTED_COLUMNS},
                 "id": first_id + n, "watch_id": None} for n in range(120)]
    with engine.begin() as connection:
        stored = _both_ways(connection, table, (rows(1), rows(1001)), _CAPTURE_INSERT)
    assert [r[0] for r in stored] == [str(i) for i in [*range(1, 121), *range(1001, 1121)]]
    assert [r[1:] for r in stored[:120]] == [r[1:] for r in stored[120:]]


def test_no_rows_runs_nothing(engine):
    with engine.begin() as connection:
        _PENDING_INSERT.execute(connection, [])
        assert connection.execute(select(LedgerPending.__table__.c.id)).first() is None


def test_json_alone_is_refused():
    with pytest.raises(ValueError):
        BulkInsert(LedgerPending.__table__, ["agent", "details"])

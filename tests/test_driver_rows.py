"""DriverRows writes what SQLAlchemy's own executemany writes, value for value and type for
type, on SQLite and PostgreSQL, for the three statements that use it."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, insert, select, text

from archiver.db import migrate, normalise_url
from archiver.driver_rows import DriverRows
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture, CaptureRecord, WarcFile
from archiver.storing import _INSERT_RECORDS, _RECORD_COLUMNS, _STORE, STORE_FIELDS, _store_statement

WORDS = ["", "a", "é", "日本語", 'quote " and \\ back', "line\nbreak", "tab\t", "\u2028", "x" * 300]


def _json_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice(WORDS)
    if kind == 2:
        return rng.randrange(-10**12, 10**12)
    if kind == 3:
        return rng.choice([True, False])
    if kind == 4:
        return [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(WORDS) + str(n): _json_value(rng, depth + 1) for n in range(rng.randrange(4))}


def _column_value(rng: random.Random, column):
    if rng.random() < 0.2:
        return None
    python_type = column.type.python_type if not hasattr(column.type, "impl") else datetime
    if column.type.__class__.__name__ == "JSON":
        return _json_value(rng)
    if python_type is datetime:
        zone = timezone(timedelta(hours=rng.randrange(-12, 13)))
        return datetime(2020, 1, 1, tzinfo=zone) + timedelta(seconds=rng.randrange(10**8),
                                                             microseconds=rng.randrange(10**6))
    if python_type is bool:
        return rng.choice([True, False])
    if python_type is int:
        return rng.randrange(0, 2**40 if column.type.__class__.__name__ == "BigInteger" else 2**31)
    return rng.choice(WORDS)[:column.type.length or None] if column.type.length else rng.choice(WORDS)


@pytest.fixture
def engine(database_url):
    migrate(database_url)
    engine = create_engine(normalise_url(database_url))
    yield engine
    engine.dispose()


def _stored(connection, table, order):
    """Every column as the database holds it: SQLite's value and storage class, PostgreSQL's text."""
    names = [c.name for c in table.c]
    if connection.dialect.name == "sqlite":
        cols = ", ".join(f'quote("{n}") AS c{i}' for i, n in enumerate(names))
    else:
        # named apart from the columns, so that ORDER BY sorts by the column, not its text
        cols = ", ".join(f'"{n}"::text AS c{i}' for i, n in enumerate(names))
    return connection.execute(text(f"SELECT {cols} FROM {table.name} ORDER BY {order}")).all()


def _warc_file(connection) -> int:
    return connection.execute(insert(WarcFile.__table__).values(
        filename="a.warc.gz", state="open", opened_at=datetime.now(timezone.utc))
        .returning(WarcFile.__table__.c.id)).scalar_one()


def _new_captures(connection, count: int) -> list[int]:
    table = Capture.__table__
    return [connection.execute(insert(table).values(
        requested_url=f"http://x/{n}", state="fetching", source="api", queued_at=datetime.now(timezone.utc))
        .returning(table.c.id)).scalar_one() for n in range(count)]


def _capture_updates(rng: random.Random, capture_ids: list[int], warc: int) -> list[dict]:
    """The UPDATE's row of each capture: random values of every stored field's type."""
    table = Capture.__table__
    updates = []
    for capture_id in capture_ids:
        values = {f"set_{name}": _column_value(rng, table.c[name]) for name in STORE_FIELDS}
        values.update(set_warc_file_id=warc, set_state=rng.choice(["stored", "failed"]),
                      set_http_status=rng.choice([None, 200, 404]), capture_id=capture_id)
        updates.append(values)
    return updates


def test_records_insert_is_sqlalchemys(engine):
    table = CaptureRecord.__table__
    with engine.begin() as connection:
        warc = _warc_file(connection)
        capture_ids = _new_captures(connection, 2)

        def rows(prefix: str) -> list[dict]:
            rng = random.Random(7)       # the same values both times
            return [{**{name: _column_value(rng, table.c[name]) for name in _RECORD_COLUMNS},
                     "capture_id": capture_ids[n % 2], "warc_file_id": warc, "record_id": f"{prefix}{n}",
                     "offset": n, "length": n, "record_type": "response",
                     "requisite": rng.choice([True, False])} for n in range(60)]
        connection.execute(insert(table), rows("a"))
        _INSERT_RECORDS.execute(connection, rows("b"))
        stored = _stored(connection, table, "id")
    record_id = [c.name for c in table.c].index("record_id")
    other = lambda row: [v for i, v in enumerate(row) if i not in (0, record_id)]   # noqa: E731
    assert [other(r) for r in stored[:60]] == [other(r) for r in stored[60:]]


def test_capture_update_is_sqlalchemys(engine):
    """Every stored field of a capture, random values of each column's type (JSON with
    non-ASCII text, datetimes in other zones, None), updated both ways."""
    rng = random.Random(11)
    table = Capture.__table__
    with engine.begin() as connection:
        warc = _warc_file(connection)
        ids = _new_captures(connection, 80)
        updates = _capture_updates(rng, ids, warc)
        # the last 40 get the values of the first 40, the other way
        twins = [{**original, "capture_id": later["capture_id"]}
                 for original, later in zip(updates[:40], updates[40:])]
        connection.execute(_store_statement(), updates[:40])
        _STORE.execute(connection, twins)
        stored = _stored(connection, table, "id")
    written = [i for i, c in enumerate(table.c) if c.name in STORE_FIELDS]
    keep = lambda row: [row[i] for i in written]   # noqa: E731
    assert [keep(r) for r in stored[:40]] == [keep(r) for r in stored[40:]]


def test_ledger_insert_is_sqlalchemys(engine):
    from archiver.ledger.log import _INSERT_ENTRIES
    rng = random.Random(3)
    table = LedgerEntry.__table__

    def rows(first):
        return [{"position": first + n, "recorded_at": _column_value(rng, table.c.recorded_at)
                 or datetime(2021, 1, 1, tzinfo=timezone.utc), "event": "stored", "capture_id": rng.choice([None, n]),
                 "agent": _json_value(rng) or {}, "details": _json_value(rng) or {},
                 "leaf_hash": rng.randbytes(32)} for n in range(50)]
    theirs = rows(0)
    rng = random.Random(3)
    mine = rows(0)
    for row in mine:
        row["position"] += 1000
    with engine.begin() as connection:
        connection.execute(insert(table), theirs)
        _INSERT_ENTRIES.execute(connection, mine)
        stored = _stored(connection, table, "position")
    assert [r[1:] for r in stored[:50]] == [r[1:] for r in stored[50:]]


def test_a_column_default_is_refused(engine):
    """A default SQLAlchemy would compute per row (here `requisite`'s) is not computed here."""
    keys = [name for name in _RECORD_COLUMNS if name != "requisite"]
    with engine.connect() as connection, pytest.raises(ValueError):
        DriverRows(insert(CaptureRecord.__table__), keys).execute(connection, [dict.fromkeys(keys)])


def test_no_rows_runs_nothing(engine):
    with engine.connect() as connection:
        _INSERT_RECORDS.execute(connection, [])
        assert connection.execute(select(CaptureRecord.__table__.c.id)).first() is None


def test_rows_prepared_ahead_are_sqlalchemys(engine):
    """prepare() converts the values before the connection is there; those given later, one
    for all the rows (`shared`) or one per row (`each`), are converted at execute. Either
    way the rows hold what SQLAlchemy's executemany writes."""
    from archiver.ledger.log import _INSERT_ENTRIES
    rng = random.Random(13)
    table = Capture.__table__
    with engine.begin() as connection:
        warc = _warc_file(connection)
        ids = _new_captures(connection, 60)
        updates = _capture_updates(rng, ids[:30], warc)
        for values in updates:
            values.update(set_stored_at=datetime(2022, 5, 1, 12, tzinfo=timezone.utc),
                          set_finished_at=datetime(2022, 5, 1, 12, tzinfo=timezone.utc))
        connection.execute(_store_statement(), updates)
        later = {"set_stored_at", "set_finished_at"}
        ahead = _STORE.prepare(connection.dialect, [{k: v for k, v in row.items() if k not in later}
                                                   | {"capture_id": twin} for row, twin in zip(updates, ids[30:])],
                               later=sorted(later))
        ahead.execute(connection, shared={
            "set_stored_at": datetime(2022, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))),
            "set_finished_at": datetime(2022, 5, 1, 12, tzinfo=timezone.utc)})
        stored = _stored(connection, table, "id")

        entries = LedgerEntry.__table__
        rows = [{"position": n, "recorded_at": datetime(2023, 1, 1, tzinfo=timezone.utc), "event": "stored",
                 "capture_id": rng.choice([None, n]), "agent": _json_value(rng) or {},
                 "details": _json_value(rng), "leaf_hash": rng.randbytes(32)} for n in range(40)]
        connection.execute(insert(entries), rows)
        parts = [_INSERT_ENTRIES.prepare(connection.dialect,
                                         [{k: v for k, v in row.items() if k not in ("position", "leaf_hash",
                                                                                     "recorded_at")}
                                          for row in rows[start:end]],
                                         later=("position", "recorded_at", "leaf_hash"))
                 for start, end in ((0, 1), (1, 25), (25, 40))]
        (parts[0] + parts[1] + parts[2]).execute(
            connection, shared={"recorded_at": datetime(2023, 1, 1, tzinfo=timezone.utc)},
            each=[{"position": row["position"] + 100, "leaf_hash": row["leaf_hash"]} for row in rows])
        logged = _stored(connection, entries, "position")
    written = [i for i, c in enumerate(table.c) if c.name in STORE_FIELDS]
    keep = lambda row: [row[i] for i in written]   # noqa: E731
    assert [keep(r) for r in stored[:30]] == [keep(r) for r in stored[30:]]
    assert [r[1:] for r in logged[:40]] == [r[1:] for r in logged[40:]]


def test_rows_prepared_ahead_need_what_was_left_out(engine):
    from archiver.ledger.log import _INSERT_ENTRIES
    with engine.connect() as connection:
        ahead = _INSERT_ENTRIES.prepare(connection.dialect, [{"event": "x", "capture_id": None, "agent": {},
                                                             "details": {}}],
                                        later=("position", "recorded_at", "leaf_hash"))
        with pytest.raises(ValueError, match="their own"):
            ahead.execute(connection, shared={"recorded_at": datetime.now(timezone.utc)})
        with pytest.raises(ValueError, match="no binds"):
            _INSERT_ENTRIES.prepare(connection.dialect, [], later=("nothing",))

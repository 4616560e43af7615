"""Many new rows of one table: one statement on PostgreSQL, one executemany on SQLite.

An executemany of a few hundred rows costs PostgreSQL a statement per row, pipelined or
not: for a 200-URL submission that was most of its wait for the first task. On PostgreSQL
the rows go instead as one parameter per column into `INSERT ... SELECT`, in the order
given, each through its column's type (UTC datetimes, JSON) as SQLAlchemy would convert it:
a plain column as an ARRAY of its type, expanded by `unnest`; a JSON column as one JSON
array of the values, expanded by `json_array_elements` (each element is the text the value
alone serialises to; psycopg would escape every quote of every document in a json[] array).
SQLite runs in this process and has no arrays: there the rows go to the driver in one
executemany (archiver/driver_rows.py). tests/test_bulk_insert.py compares both with
SQLAlchemy's own executemany.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from sqlalchemy import JSON, Table, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from archiver.driver_rows import DriverRows


class BulkInsert:
    """INSERT into `table` of rows that each give the columns in `keys`, and only those."""

    def __init__(self, table: Table, keys: Sequence[str]):
        self._keys = tuple(keys)
        self._driver_rows = DriverRows(insert(table), self._keys)
        self._one_row = insert(table)      # PostgreSQL: one row costs less as a plain INSERT
        self._from_columns = insert(table).from_select(self._keys, rows_from_columns(table, self._keys))

    def execute(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if connection.dialect.name != "postgresql":
            self._driver_rows.execute(connection, rows)
        elif len(rows) == 1:
            connection.execute(self._one_row, rows[0])
        else:
            connection.execute(self._from_columns, columns_of(rows, self._keys))


def columns_of(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, list]:
    """The parameters of rows_from_columns: one list of values per column."""
    return {key: [row[key] for row in rows] for key in keys}


def rows_from_columns(table: Table, keys: Sequence[str]):
    """PostgreSQL: the SELECT of rows from one list of values per column (columns_of),
    numbered from 1 in each list and joined on that number, in that order: an INSERT from
    it gives a serial column's values ascending in the order of the rows."""
    plain = [key for key in keys if not isinstance(table.c[key].type, JSON)]
    if not plain:
        raise ValueError("BulkInsert needs a column that is not JSON")
    arrays = func.unnest(*[bindparam(key, type_=ARRAY(table.c[key].type)) for key in plain])
    first = arrays.table_valued(*plain, with_ordinality="n").render_derived()
    value_of, joined = {key: first.c[key] for key in plain}, first
    for key in keys:
        if key not in value_of:
            elements = func.json_array_elements(bindparam(key, type_=table.c[key].type))
            source = elements.table_valued("value", with_ordinality="n").render_derived()
            value_of[key], joined = source.c.value, joined.join(source, source.c.n == first.c.n)
    return select(*[value_of[key] for key in keys]).select_from(joined).order_by(first.c.n)

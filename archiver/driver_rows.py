"""Executemany with each row handed to the database driver in one pass.

SQLAlchemy's executemany builds every row's parameters in Python twice over: a walk of all
the statement's binds into a dictionary, then each value through its column's bind
processing. For the busiest writes of a capture (its row, its records' rows, its evidence
log entries) the walk costs about as much as the driver's insert. `DriverRows` keeps what
matters of SQLAlchemy: the statement is SQLAlchemy's, compiled once per dialect, and each
value goes through its column type's own bind processor, so the driver receives exactly
the parameters SQLAlchemy would have sent (tests/test_driver_rows.py compares the two).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.engine import Connection, Dialect


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]                         # the row keys, in the driver's order
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list:
        pairs = tuple(zip(self.names, self.processors))
        if self.positional:
            return [tuple([row[name] if process is None else process(row[name]) for name, process in pairs])
                    for row in rows]
        return [{name: row[name] if process is None else process(row[name]) for name, process in pairs}
                for row in rows]


class DriverRows:
    """`statement` (an INSERT or UPDATE whose binds are all given by each row, under the
    names in `keys`) run for many rows."""

    def __init__(self, statement, keys: Sequence[str]):
        self._statement = statement
        self._keys = list(keys)
        # per dialect object: its settings (the JSON serializer, say) shape the processors
        self._plans: weakref.WeakKeyDictionary[Dialect, _Plan] = weakref.WeakKeyDictionary()

    def execute(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        plan = self._plans.get(connection.dialect)
        if plan is None:
            plan = self._plans[connection.dialect] = self._plan(connection.dialect)
        connection.exec_driver_sql(plan.sql, plan.parameters(rows))

    def _plan(self, dialect: Dialect) -> _Plan:
        compiled = self._statement.compile(dialect=dialect, column_keys=self._keys)
        # values SQLAlchemy would compute per row (column defaults) or rename are not handled
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.escaped_bind_names:
            raise ValueError("DriverRows needs a statement whose every bind a row gives, by name")
        names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
        missing = set(names) - set(self._keys)
        if missing:
            raise ValueError(f"the rows do not give the binds {sorted(missing)}")
        processors = tuple(_processor(compiled.binds[name].type, dialect) for name in names)
        return _Plan(compiled.string, names, processors, compiled.positional)


def _processor(kind, dialect: Dialect):
    """The bind processor SQLAlchemy runs for a value of this type on this dialect."""
    return kind.dialect_impl(dialect).bind_processor(dialect)

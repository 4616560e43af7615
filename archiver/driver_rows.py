"""Executemany with each row handed to the database driver in one pass.

SQLAlchemy's executemany builds every row's parameters in Python twice over: a walk of all
the statement's binds into a dictionary, then each value through its column's bind
processing. For the busiest writes of a capture (its row, its records' rows, its evidence
log entries) the walk costs about as much as the driver's insert. `DriverRows` keeps what
matters of SQLAlchemy: the statement is SQLAlchemy's, compiled once per dialect, and each
value goes through its column type's own bind processor, so the driver receives exactly
the parameters SQLAlchemy would have sent (tests/test_driver_rows.py compares the two).

`prepare` does that conversion ahead of time (JSON serialised, datetimes converted): a
batch's rows are made before it waits for the catalogue's writer (archiver/storing.py),
and only the values known inside the transaction (a time, a position) are converted there.
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

    def parameters(self, rows: Sequence[Mapping[str, Any]], later: frozenset[str] = frozenset()) -> list:
        """The driver's parameters of the rows (a tuple of values, or a dict, a row), but
        the keys in `later`: a placeholder in their place, and a list for completed() to
        fill in."""
        pairs = tuple(zip(self.names, self.processors))
        if self.positional:
            made = list if later else tuple          # the driver takes tuples, not lists
            return [made([None if name in later else row[name] if process is None else process(row[name])
                          for name, process in pairs]) for row in rows]
        return [{name: row[name] if process is None else process(row[name])
                 for name, process in pairs if name not in later} for row in rows]

    def completed(self, prepared: list, later: frozenset[str], each: Sequence[Mapping[str, Any]] | None,
                  shared: Mapping[str, Any]) -> list:
        """The prepared rows with their `later` keys filled in: from `shared`, the same for
        every row (converted once), or from `each`, one mapping per row."""
        slots = [(n if self.positional else name, name, process)
                 for n, (name, process) in enumerate(zip(self.names, self.processors)) if name in later]
        common = {name: shared[name] if process is None else process(shared[name])
                  for _, name, process in slots if name in shared}
        own = [(slot, name, process) for slot, name, process in slots if name not in common]
        if own and (each is None or len(each) != len(prepared)):
            raise ValueError(f"the rows need their own {sorted(name for _, name, _ in own)}")
        done = []
        for n, row in enumerate(prepared):
            row = row.copy()
            for slot, name, _ in slots:
                if name in common:
                    row[slot] = common[name]
            for slot, name, process in own:
                value = each[n][name]
                row[slot] = value if process is None else process(value)
            done.append(tuple(row) if self.positional else row)
        return done


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
        plan = self._plan_for(connection.dialect)
        connection.exec_driver_sql(plan.sql, plan.parameters(rows))

    def prepare(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]],
                later: Sequence[str] = ()) -> "PreparedRows":
        """The rows converted for the driver of `dialect` now, but the keys in `later`
        (which the rows need not give): PreparedRows.execute takes those."""
        later = frozenset(later)
        unknown = later - set(self._keys)
        if unknown:
            raise ValueError(f"the statement has no binds {sorted(unknown)}")
        plan = self._plan_for(dialect)
        return PreparedRows(self, dialect, later, plan.parameters(rows, later))

    def _plan_for(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect)
        if plan is None:
            plan = self._plans[dialect] = self._plan(dialect)
        return plan

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


@dataclass(frozen=True)
class PreparedRows:
    """Rows of a DriverRows statement converted ahead of time (DriverRows.prepare)."""
    statement: DriverRows
    dialect: Dialect
    later: frozenset[str]
    rows: list

    def __add__(self, other: "PreparedRows") -> "PreparedRows":
        if (other.statement, other.dialect, other.later) != (self.statement, self.dialect, self.later):
            raise ValueError("only rows prepared alike join")
        return PreparedRows(self.statement, self.dialect, self.later, self.rows + other.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def execute(self, connection: Connection, each: Sequence[Mapping[str, Any]] | None = None,
                shared: Mapping[str, Any] | None = None) -> None:
        """Run the statement for the rows, their `later` keys from `shared` (one value for
        every row) or `each` (a mapping per row, in order)."""
        if not self.rows:
            return
        if connection.dialect is not self.dialect:
            raise ValueError("the rows were prepared for another database")
        plan = self.statement._plan_for(self.dialect)
        rows = plan.completed(self.rows, self.later, each, shared or {}) if self.later else self.rows
        connection.exec_driver_sql(plan.sql, rows)


def _processor(kind, dialect: Dialect):
    """The bind processor SQLAlchemy runs for a value of this type on this dialect."""
    return kind.dialect_impl(dialect).bind_processor(dialect)

"""The append-only evidence log in the catalogue: appending events, signing heads,
proofs, and a full check that says where the log was tampered with.

An entry's leaf is SHA-256(0x00 || canonical JSON of its fields), so editing any field,
or the stored hash, shows: the first through the recomputed leaf, the second through the
signed roots. Appends are serialised (an advisory lock on PostgreSQL, the single writer
on SQLite) so positions have no gaps and no duplicates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from archiver.bulk_insert import BulkInsert
from archiver.db import transaction
from archiver.driver_rows import DriverRows, PreparedRows
from archiver.ledger.keys import (HeadSignatureError, TreeHead, sign_head, verify_head)
from archiver.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, root
from archiver.ledger.models import LedgerEntry, LedgerHead, LedgerPending

APPEND_LOCK = 0x6172636869766572      # "archiver": the PostgreSQL advisory lock for appends
APPEND_TRIES = 20


# json.dumps with these options builds an encoder each call: one, built once, does the same
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(position: int, recorded_at: datetime, event: str, capture_id: int | None,
              agent: dict, details: dict) -> bytes:
    """The bytes an entry's leaf hash covers: sorted-key JSON, UTF-8, no spaces."""
    document = {"position": position, "recorded_at": recorded_at.astimezone(timezone.utc).isoformat(),
                "event": event, "capture_id": capture_id, "agent": agent, "details": details}
    return _CANONICAL_JSON.encode(document).encode("utf-8")


def _canonical_head(event: str, capture_id: int | None, agent: dict, details: dict) -> bytes:
    """canonical() up to the value of "position": the part known before the append lock."""
    encode = _CANONICAL_JSON.encode
    return (f'{{"agent":{encode(agent)},"capture_id":{encode(capture_id)},"details":{encode(details)},'
            f'"event":{encode(event)},"position":').encode("utf-8")


def _canonical_tail(recorded_at: datetime) -> Callable[[int], bytes]:
    """The rest of canonical() after _canonical_head, by position, for entries recorded at
    `recorded_at`."""
    after = f',"recorded_at":{_CANONICAL_JSON.encode(recorded_at.astimezone(timezone.utc).isoformat())}}}'
    return lambda position: (_CANONICAL_JSON.encode(position) + after).encode("utf-8")


def entry_bytes(entry: LedgerEntry) -> bytes:
    return canonical(entry.position, entry.recorded_at, entry.event, entry.capture_id, entry.agent,
                     entry.details)


def _take_append_lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
    else:
        # SQLite: take the write lock before reading the last position (a write statement
        # takes it even when it changes nothing), so no other writer can append in between.
        session.execute(text("UPDATE ledger_heads SET size = size WHERE id = -1"))


_ENTRIES = LedgerEntry.__table__
_PENDING = LedgerPending.__table__
_INSERT_ENTRIES = DriverRows(insert(_ENTRIES), ("position", "recorded_at", "event", "capture_id", "agent",
                                               "details", "leaf_hash"))
_NEXT_POSITION = select(func.coalesce(func.max(_ENTRIES.c.position) + 1, 0))
# Takes the waiting events and removes them in one statement: a separate SELECT then
# DELETE could, on PostgreSQL, delete an event committed in between without sequencing it.
_TAKE_PENDING = delete(_PENDING).returning(_PENDING.c.id, _PENDING.c.recorded_at, _PENDING.c.event,
                                           _PENDING.c.capture_id, _PENDING.c.agent, _PENDING.c.details)


def _entry_row(position: int, recorded_at: datetime, event: str, agent: dict, details: dict,
               capture_id: int | None) -> dict:
    """The column values of a new entry, its leaf hash included."""
    details = dict(details or {})
    return {"position": position, "recorded_at": recorded_at, "event": event, "capture_id": capture_id,
            "agent": agent, "details": details,
            "leaf_hash": leaf_hash(canonical(position, recorded_at, event, capture_id, agent, details))}


def _sequence_pending(session: Session, position: int) -> int:
    """Give the waiting events the next positions, in the order they were written; the
    caller holds the append lock. Returns the next free position."""
    waiting = sorted(session.execute(_TAKE_PENDING).all(), key=lambda row: row.id)
    rows = [_entry_row(position + n, row.recorded_at, row.event, row.agent, row.details, row.capture_id)
            for n, row in enumerate(waiting)]
    _INSERT_ENTRIES.execute(session.connection(), rows)
    return position + len(rows)


def _lock_and_sequence(session: Session) -> int:
    """Take the append lock, sequence the waiting events; returns the next free position."""
    _take_append_lock(session)
    position = session.scalar(_NEXT_POSITION)
    return _sequence_pending(session, position)


def append(session: Session, event: str, agent: dict, details: dict | None = None,
           capture_id: int | None = None, now: datetime | None = None) -> LedgerEntry:
    """Add an entry inside the caller's transaction (so an event and the change it records
    commit together). Events waiting to be sequenced go first. On PostgreSQL the
    transaction holds the append lock until it ends."""
    return append_all(session, [NewEntry(event, agent, details or {}, capture_id)], now)[0]


@dataclass(frozen=True)
class NewEntry:
    """An event to append (append_all)."""
    event: str
    agent: dict
    details: dict
    capture_id: int | None = None


def _new_rows(session: Session, entries: Iterable[NewEntry], now: datetime | None) -> list[dict]:
    """Take the append lock, sequence the waiting events, and return the rows of `entries`
    at the positions that follow, in the order given."""
    position = _lock_and_sequence(session)
    recorded_at = now or datetime.now(timezone.utc)
    return [_entry_row(position + n, recorded_at, new.event, new.agent, new.details, new.capture_id)
            for n, new in enumerate(entries)]


def append_all(session: Session, entries: Iterable[NewEntry],
               now: datetime | None = None) -> list[LedgerEntry]:
    """Add several entries, in the order given and at consecutive positions, inside the
    caller's transaction: one take of the append lock and one flush for all of them.
    Returns them as rows of the session (append_rows when nobody needs them)."""
    added = [LedgerEntry(**row) for row in _new_rows(session, entries, now)]
    session.add_all(added)
    session.flush()
    return added


def append_rows(session: Session, entries: Iterable[NewEntry], now: datetime | None = None) -> range:
    """append_all in one INSERT, without ORM objects (the busiest path: a capture's `fetched`,
    `text_extracted` and `stored` events). Returns the positions given."""
    return append_prepared(session, [prepare_entries(session.get_bind().dialect, entries)], now)


@dataclass(frozen=True)
class PreparedEntries:
    """Entries encoded before the append lock is taken (prepare_entries): the bytes of each
    but its position and time, and its row converted for the database's driver but those
    and the leaf hash. canonical() sorts the keys and "position" and "recorded_at" sort
    last, so an entry's bytes are its head followed by _canonical_tail()
    (tests/test_ledger.py holds the two ways equal)."""
    heads: list[bytes]
    rows: PreparedRows


_LATER = ("position", "recorded_at", "leaf_hash")


def prepare_entries(dialect: Dialect, entries: Iterable[NewEntry]) -> PreparedEntries:
    """What append_prepared needs of `entries`, made without the catalogue: for a batch,
    before it waits for the writer (archiver/storing.py)."""
    rows = [{"event": new.event, "capture_id": new.capture_id, "agent": new.agent,
             "details": dict(new.details or {})} for new in entries]
    heads = [_canonical_head(row["event"], row["capture_id"], row["agent"], row["details"]) for row in rows]
    return PreparedEntries(heads, _INSERT_ENTRIES.prepare(dialect, rows, later=_LATER))


def append_prepared(session: Session, prepared: Sequence[PreparedEntries], now: datetime | None = None) -> range:
    """append_rows of entries prepared beforehand, in the order given: under the append
    lock, only their positions, the time and the leaf hashes are made. Returns the
    positions given."""
    position = _lock_and_sequence(session)
    recorded_at = now or datetime.now(timezone.utc)
    heads = [head for part in prepared for head in part.heads]
    if not heads:
        return range(0)
    rows = prepared[0].rows
    for part in prepared[1:]:
        rows += part.rows
    tail = _canonical_tail(recorded_at)
    rows.execute(session.connection(), shared={"recorded_at": recorded_at},
                 each=[{"position": position + n, "leaf_hash": leaf_hash(head + tail(position + n))}
                       for n, head in enumerate(heads)])
    return range(position, position + len(heads))


def append_later(session: Session, event: str, agent: dict, details: dict | None = None,
                 capture_id: int | None = None, now: datetime | None = None) -> None:
    """Write an event in the caller's transaction without taking the append lock: it gets
    its position when the log is next appended to or signed. For the busiest path (every
    submission), so concurrent submissions do not queue behind one another."""
    append_all_later(session, [NewEntry(event, agent, dict(details or {}), capture_id)], now)


_PENDING_INSERT = BulkInsert(LedgerPending.__table__,
                             ("recorded_at", "event", "capture_id", "agent", "details"))


def append_all_later(session: Session, entries: Iterable[NewEntry], now: datetime | None = None) -> None:
    """append_later for several events, in one statement (a submission of many URLs)."""
    recorded_at = now or datetime.now(timezone.utc)
    rows = [{"recorded_at": recorded_at, "event": e.event, "capture_id": e.capture_id,
             "agent": e.agent, "details": dict(e.details)} for e in entries]
    if rows:
        _PENDING_INSERT.execute(session.connection(), rows)


def sequence(sessions: sessionmaker[Session]) -> int:
    """Give every waiting event its position now; returns the log's size."""
    with transaction(sessions) as session:
        return _lock_and_sequence(session)


def record(sessions: sessionmaker[Session], event: str, agent: dict, details: dict | None = None,
           capture_id: int | None = None) -> LedgerEntry:
    """Append in a transaction of its own, trying again when another writer took the position."""
    for attempt in range(APPEND_TRIES):
        try:
            with transaction(sessions) as session:
                entry = append(session, event, agent, details, capture_id)
                session.expunge(entry)
                return entry
        except (IntegrityError, OperationalError):
            if attempt == APPEND_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def leaf_hashes(session: Session, size: int | None = None) -> list[bytes]:
    query = select(LedgerEntry.leaf_hash).order_by(LedgerEntry.position)
    if size is not None:
        query = query.limit(size)
    return [bytes(h) for h in session.scalars(query)]


def sign_current_head(sessions: sessionmaker[Session], key, now: datetime | None = None) -> TreeHead:
    """Sign the log as it is now (waiting events sequenced first) and keep the head."""
    with transaction(sessions) as session:
        _lock_and_sequence(session)
        session.flush()
        leaves = leaf_hashes(session)
        stamp = int((now or datetime.now(timezone.utc)).timestamp() * 1000)
        head = sign_head(key, len(leaves), root(leaves), stamp)
        session.add(LedgerHead(size=head.size, root=head.root, timestamp_ms=head.timestamp_ms,
                               signature=head.signature))
        return head


def grown_since_head(session: Session) -> bool:
    """Whether the log holds entries (or waiting events) that no signed head covers."""
    head = latest_head(session)
    size = session.scalar(select(func.count()).select_from(LedgerEntry))
    waiting = session.scalar(select(func.count()).select_from(LedgerPending))
    return head is None or bool(waiting) or head.size != size


def latest_head(session: Session) -> TreeHead | None:
    row = session.scalars(select(LedgerHead).order_by(LedgerHead.size.desc(), LedgerHead.id.desc())).first()
    return _head(row) if row else None


def _head(row: LedgerHead) -> TreeHead:
    return TreeHead(row.size, bytes(row.root), row.timestamp_ms, bytes(row.signature))


def inclusion(session: Session, position: int, head: TreeHead) -> list[bytes]:
    return inclusion_proof(position, leaf_hashes(session, head.size))


def consistency(session: Session, old_size: int, new: TreeHead) -> list[bytes]:
    return consistency_proof(old_size, leaf_hashes(session, new.size))


@dataclass
class LogCheck:
    entries: int = 0
    heads: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_log(session: Session, public_key) -> LogCheck:
    """Re-hash every entry, check every signed head against the entries, and say where
    anything differs: an edited entry by its position, a deletion, insertion or reordering
    by the span between the last head that still matches and the first that does not."""
    report = LogCheck()
    entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.position)).all()
    report.entries = len(entries)
    recomputed: list[bytes] = []
    for expected, entry in enumerate(entries):
        if entry.position != expected:
            report.problems.append(f"entry {expected} is missing: the positions jump from {expected - 1} "
                                   f"to {entry.position} (entries were deleted)")
            break
        actual = leaf_hash(entry_bytes(entry))
        if actual != bytes(entry.leaf_hash):
            report.problems.append(f"entry {entry.position} ({entry.event}) was edited: its content "
                                   "no longer matches its recorded hash")
        recomputed.append(actual)
    heads = [_head(row) for row in session.scalars(select(LedgerHead).order_by(LedgerHead.size, LedgerHead.id))]
    report.heads = len(heads)
    good_size = 0
    for head in heads:
        try:
            verify_head(public_key, head)
        except HeadSignatureError as exc:
            report.problems.append(str(exc))
            continue
        if head.size > len(recomputed):
            report.problems.append(f"the head signed at {_when(head)} covers {head.size} entries, but only "
                                   f"{len(recomputed)} are left: entries from {len(recomputed)} on were deleted")
            continue
        if root(recomputed[:head.size]) != head.root:
            report.problems.append(f"the entries up to {head.size} differ from what was signed at {_when(head)}: "
                                   f"something among entries {good_size} to {head.size - 1} was changed, "
                                   "inserted, removed or reordered")
            continue
        good_size = max(good_size, head.size)
    return report


def _when(head: TreeHead) -> str:
    return datetime.fromtimestamp(head.timestamp_ms / 1000, timezone.utc).isoformat()


def entries_of(session: Session, capture_id: int) -> Iterable[LedgerEntry]:
    return session.scalars(select(LedgerEntry).where(LedgerEntry.capture_id == capture_id)
                           .order_by(LedgerEntry.position)).all()

"""The evidence log on SQLite and PostgreSQL: appends without gaps under concurrency,
signed heads, proofs that verify, and tampering of every kind detected and located."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, update

from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.ledger import verify_consistency, verify_inclusion
from archiver.ledger.keys import load_or_create_key, load_public_key, public_key_pem
from archiver.ledger.log import (check_log, consistency, inclusion, latest_head, leaf_hashes, record,
                                 sign_current_head)
from archiver.ledger.models import LedgerEntry, LedgerHead

AGENT = {"kind": "worker", "name": "test-worker", "software": "archiver 0.1.0"}


@pytest.fixture
def log(database_url, data_dir):
    migrate(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    key = load_or_create_key(data_dir)
    yield sessions, key
    engine.dispose()


def fill(sessions, key, n: int, heads_every: int = 5):
    for i in range(n):
        record(sessions, "stored", AGENT, {"payload_sha256": f"{i:064x}", "n": i}, capture_id=i + 1)
        if (i + 1) % heads_every == 0:
            sign_current_head(sessions, key)


def test_key_is_made_once_and_kept_private(data_dir):
    first = load_or_create_key(data_dir)
    again = load_or_create_key(data_dir)
    assert public_key_pem(first) == public_key_pem(again)
    path = data_dir / "keys" / "ledger-ed25519.pem"
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_clean_log_checks_and_its_proofs_verify(log):
    sessions, key = log
    fill(sessions, key, 23)
    public = load_public_key(public_key_pem(key))
    with sessions() as session:
        report = check_log(session, public)
        assert report.ok and report.entries == 23 and report.heads == 4, report.problems
        head = latest_head(session)
        assert head.size == 20
        leaves = leaf_hashes(session)
        for position in (0, 7, 19):
            verify_inclusion(position, head.size, leaves[position], inclusion(session, position, head), head.root)
        older = session.query(LedgerHead).filter_by(size=10).one()
        verify_consistency(10, head.size, bytes(older.root), head.root, consistency(session, 10, head))


def test_concurrent_appends_leave_no_gaps(log):
    sessions, key = log
    barrier = threading.Barrier(4)

    def writer(w):
        barrier.wait()
        for i in range(15):
            record(sessions, "fetched", AGENT, {"writer": w, "i": i})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sessions() as session:
        positions = [e.position for e in session.query(LedgerEntry).order_by(LedgerEntry.position)]
    assert positions == list(range(60))
    sign_current_head(sessions, key)
    with sessions() as session:
        assert check_log(session, key.public_key()).ok


def tamper(sessions, statement):
    with transaction(sessions) as session:
        session.execute(statement)


def problems(sessions, key) -> list[str]:
    with sessions() as session:
        return check_log(session, key.public_key()).problems


def test_an_edited_entry_is_named(log):
    sessions, key = log
    fill(sessions, key, 10)
    tamper(sessions, update(LedgerEntry).where(LedgerEntry.position == 6).values(details={"n": 999}))
    found = problems(sessions, key)
    assert any("entry 6" in p and "edited" in p for p in found), found


def test_an_edit_with_its_hash_recomputed_is_caught_by_the_signed_head(log):
    from archiver.ledger.log import canonical
    from archiver.ledger.merkle import leaf_hash
    sessions, key = log
    fill(sessions, key, 10)
    with transaction(sessions) as session:
        entry = session.get(LedgerEntry, 3)
        entry.details = {"payload_sha256": "0" * 64, "n": 3}
        entry.leaf_hash = leaf_hash(canonical(entry.position, entry.recorded_at, entry.event,
                                              entry.capture_id, entry.agent, entry.details))
    found = problems(sessions, key)
    assert found and all("edited" not in p for p in found)
    assert any("entries 0 to 4" in p for p in found), found      # within the first signed head


def test_deleted_entries_are_found(log):
    sessions, key = log
    fill(sessions, key, 10)
    tamper(sessions, delete(LedgerEntry).where(LedgerEntry.position == 4))
    assert any("entry 4 is missing" in p for p in problems(sessions, key))


def test_truncation_after_a_signed_head_is_found(log):
    sessions, key = log
    fill(sessions, key, 10)
    tamper(sessions, delete(LedgerEntry).where(LedgerEntry.position >= 8))
    assert any("only 8 are left" in p for p in problems(sessions, key))


def test_reordered_entries_are_found(log):
    sessions, key = log
    fill(sessions, key, 10)
    with transaction(sessions) as session:
        a, b = session.get(LedgerEntry, 6), session.get(LedgerEntry, 7)
        fields = ("recorded_at", "event", "capture_id", "agent", "details", "leaf_hash")
        values_a = {f: getattr(a, f) for f in fields}
        for f in fields:
            setattr(a, f, getattr(b, f))
            setattr(b, f, values_a[f])
    found = problems(sessions, key)
    assert any("entry 6" in p for p in found) and any("entry 7" in p for p in found), found


def test_a_forged_head_is_refused(log):
    sessions, key = log
    fill(sessions, key, 5)
    tamper(sessions, update(LedgerHead).values(timestamp_ms=LedgerHead.timestamp_ms - 86_400_000))
    assert any("signature" in p for p in problems(sessions, key))


def test_events_written_later_are_sequenced_in_order_by_the_next_append_or_head(log):
    from archiver.ledger.log import append_later, sequence
    from archiver.ledger.models import LedgerPending
    sessions, key = log
    record(sessions, "stored", AGENT, {"n": 0})
    with transaction(sessions) as session:
        for n in (1, 2):
            append_later(session, "submitted", AGENT, {"n": n}, capture_id=n)
    with sessions() as session:
        assert session.query(LedgerEntry).count() == 1 and session.query(LedgerPending).count() == 2
    record(sessions, "fetched", AGENT, {"n": 3})        # takes the waiting ones first
    with transaction(sessions) as session:
        append_later(session, "submitted", AGENT, {"n": 4})
    head = sign_current_head(sessions, key)             # and signing takes the rest
    assert head.size == 5 and sequence(sessions) == 5
    with sessions() as session:
        assert [e.details["n"] for e in session.query(LedgerEntry).order_by(LedgerEntry.position)] == [0, 1, 2, 3, 4]
        assert session.query(LedgerPending).count() == 0
        assert check_log(session, key.public_key()).ok


def test_concurrent_later_writes_and_appends_leave_no_gaps(log):
    from archiver.ledger.log import append_later
    sessions, key = log
    barrier = threading.Barrier(4)

    def writer(w):
        barrier.wait()
        for i in range(10):
            if w % 2:
                with transaction(sessions) as session:
                    append_later(session, "submitted", AGENT, {"w": w, "i": i})
            else:
                record(sessions, "fetched", AGENT, {"w": w, "i": i})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sign_current_head(sessions, key).size == 40
    with sessions() as session:
        positions = [e.position for e in session.query(LedgerEntry).order_by(LedgerEntry.position)]
        assert positions == list(range(40)) and check_log(session, key.public_key()).ok


def test_a_head_is_needed_only_when_the_log_grew(log):
    from archiver.ledger.log import append_later, grown_since_head
    sessions, key = log
    with sessions() as session:
        assert grown_since_head(session)                 # no head at all yet
    fill(sessions, key, 5)                               # signs at 5
    with sessions() as session:
        assert not grown_since_head(session)
    with transaction(sessions) as session:
        append_later(session, "submitted", AGENT, {})
    with sessions() as session:
        assert grown_since_head(session)                 # a waiting event counts
    sign_current_head(sessions, key)
    with sessions() as session:
        assert not grown_since_head(session)


def test_entries_appended_as_rows_are_sequenced_and_hashed_as_appended_objects(log):
    from archiver.ledger import leaf_hash
    from archiver.ledger.log import NewEntry, append_all, append_later, append_rows, entry_bytes
    sessions, key = log
    with transaction(sessions) as session:
        append_later(session, "submitted", AGENT, {"n": 0}, capture_id=1)
    with transaction(sessions) as session:      # the waiting event goes first
        positions = append_rows(session, [NewEntry("fetched", AGENT, {"n": 1}, 1),
                                          NewEntry("stored", AGENT, {"n": 2}, 1)])
    with transaction(sessions) as session:
        [entry] = append_all(session, [NewEntry("exported", AGENT, {"n": 3}, 1)])
    assert list(positions) == [1, 2] and entry.position == 3
    with sessions() as session:
        entries = session.query(LedgerEntry).order_by(LedgerEntry.position).all()
        assert [(e.position, e.event, e.details["n"]) for e in entries] == [
            (0, "submitted", 0), (1, "fetched", 1), (2, "stored", 2), (3, "exported", 3)]
        assert all(bytes(e.leaf_hash) == leaf_hash(entry_bytes(e)) for e in entries)
        assert check_log(session, key.public_key()).ok


def _random_entries(seed: int, count: int):
    """Entries of every shape the log holds: nested JSON with non-ASCII text, escapes,
    large and negative numbers, None, empty details, no capture."""
    import random

    from archiver.ledger.log import NewEntry
    from tests.test_driver_rows import _json_value
    rng = random.Random(seed)
    return [NewEntry(rng.choice(["fetched", "text_extracted", "stored", "revisit", "failed", "é"]),
                     {"kind": "worker", "host": rng.choice(["h", "hôte", "\u2028"]), "n": rng.randrange(-9, 10**15),
                      "extra": _json_value(rng)},
                     rng.choice([{}, {"records": [_json_value(rng) for _ in range(rng.randrange(4))],
                                      "sha": f"{rng.getrandbits(256):064x}", "note": _json_value(rng)}]),
                     rng.choice([None, rng.randrange(1, 2**31)]))
            for _ in range(count)]


def test_an_entry_encoded_ahead_has_the_bytes_canonical_gives():
    """The head made before the append lock and the tail made under it are canonical()'s
    bytes, over many entries, positions and times in many zones."""
    import random
    from datetime import datetime, timedelta, timezone

    from archiver.ledger.log import _canonical_head, _canonical_tail, canonical
    rng = random.Random(5)
    for n, new in enumerate(_random_entries(5, 3000)):
        zone = timezone(timedelta(minutes=rng.randrange(-720, 721)))
        at = datetime(2001, 1, 1, tzinfo=zone) + timedelta(seconds=rng.randrange(10**9),
                                                          microseconds=rng.choice([0, rng.randrange(10**6)]))
        position = rng.choice([0, n, rng.randrange(2**62)])
        assert _canonical_head(new.event, new.capture_id, new.agent, new.details) + _canonical_tail(at)(position) \
            == canonical(position, at, new.event, new.capture_id, new.agent, new.details)


def test_entries_prepared_ahead_are_stored_as_the_orm_appends_them(database_url, data_dir):
    """append_rows (entries prepared before the append lock) and append_all (the ORM's
    objects, each entry made whole under the lock) write the same rows, column for column,
    waiting events sequenced first, in two logs of the same database kind."""
    from datetime import datetime, timezone

    from archiver.ledger import leaf_hash
    from archiver.ledger.log import append_all, append_later, append_rows, entry_bytes
    from tests.test_driver_rows import _stored
    # SQLite: a second file; PostgreSQL: the same database again, emptied
    other = f"sqlite:///{data_dir / 'other.sqlite3'}" if database_url.startswith("sqlite") else database_url
    stored = []
    now = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone.utc)
    for way, url in (("prepared", database_url), ("orm", other)):
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with engine.begin() as connection:
            connection.execute(delete(LedgerEntry))
        entries = _random_entries(9, 120)
        with transaction(sessions) as session:
            append_later(session, "submitted", AGENT, {"url": "http://x/é"}, capture_id=7, now=now)
        for part in (entries[:1], entries[1:50], entries[50:]):
            with transaction(sessions) as session:
                if way == "prepared":
                    append_rows(session, part, now=now)
                else:
                    append_all(session, part, now=now)
        with engine.connect() as connection:
            stored.append(_stored(connection, LedgerEntry.__table__, "position"))
        with sessions() as session:
            rows = session.query(LedgerEntry).order_by(LedgerEntry.position).all()
            assert [r.position for r in rows] == list(range(121))
            assert all(bytes(r.leaf_hash) == leaf_hash(entry_bytes(r)) for r in rows)
        engine.dispose()
    assert stored[0] == stored[1]

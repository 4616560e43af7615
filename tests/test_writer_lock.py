"""The SQLite writer lock: one writing transaction at a time across processes, reentrant
within a thread (archiver/db.py WriterLock)."""
from __future__ import annotations

import multiprocessing
import threading

from sqlalchemy import text

from archiver.db import WriterLock, make_engine, make_session_factory, transaction


def _hold(path: str, ready, release) -> None:
    with WriterLock(path):
        ready.set()
        release.wait(10)


def test_a_second_process_waits_until_the_first_releases(tmp_path):
    path = str(tmp_path / "db.sqlite.writer-lock")
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        threading.Timer(0.5, release.set).start()
        with WriterLock(path):
            assert release.is_set(), "took the lock while another process held it"
    finally:
        release.set()
        holder.join(10)


def test_a_transaction_inside_a_transaction_of_the_same_thread_does_not_wait(tmp_path):
    sessions = make_session_factory(make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with transaction(sessions) as outer:
        outer.execute(text("CREATE TABLE t (x INTEGER)"))
    with transaction(sessions) as outer:
        outer.execute(text("INSERT INTO t VALUES (1)"))
        with transaction(sessions) as inner:      # would block forever if not reentrant
            assert inner.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    with transaction(sessions) as after:           # released at the outer end: free again
        assert after.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    assert (tmp_path / "db.sqlite.writer-lock").exists()

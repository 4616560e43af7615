"""Database engine, sessions and migrations for the catalogue."""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3 here (the driver we install)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """SQLite: one file, WAL. PostgreSQL: a pool per process of `pool_size` connections kept
    open and up to `max_overflow` more under load (ARCHIVER_DB_POOL_SIZE, _MAX_OVERFLOW;
    docs/deploy.md says how to size them against max_connections)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow,
                         pool_recycle=1800)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the web app read while a worker writes; busy_timeout waits instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # A common word's full-text postings outgrow the default 2 MiB page cache; 32 MiB keeps
    # them in memory (grown only as pages are read).
    cur.execute("PRAGMA cache_size=-32768")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    lock = _writer_lock(factory.kw.get("bind"))
    with lock, factory() as session, session.begin():
        yield session


_WRITER_LOCKS: dict[int, "WriterLock"] = {}


class WriterLock:
    """One writer at a time for a SQLite file: threads of this process in turn (an RLock),
    and processes in turn (an flock on a file beside the database). SQLite's own busy
    handler sleeps in growing steps (up to 100 ms) when another process holds the write
    lock, so two worker processes that both write after every capture lose far more time
    asleep than the other one holds the lock; a blocked flock wakes as soon as it is free.
    Reentrant: a transaction inside a transaction of the same thread takes nothing more."""

    def __init__(self, path: str | None):
        self._threads = threading.RLock()
        self._path = path
        self._fd: int | None = None
        self._pid = os.getpid()
        self._depth = 0

    def __enter__(self) -> "WriterLock":
        self._threads.acquire()
        try:
            if self._depth == 0 and self._path:
                if self._fd is None or self._pid != os.getpid():
                    # a forked child must not share its parent's open file: flock would
                    # treat the two as one holder
                    self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *_exc) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _writer_lock(engine):
    """SQLite has one writer at a time: wait for it on a lock of our own (WriterLock), not
    in SQLite's busy handler, which can starve threads and processes under load. Other
    databases need none."""
    if engine is None or engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITER_LOCKS.get(id(engine))
    if lock is None:
        database = engine.url.database
        path = f"{database}.writer-lock" if database and database != ":memory:" else None
        lock = _WRITER_LOCKS.setdefault(id(engine), WriterLock(path))
    return lock


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the catalogue schema up to date (safe to run on every start)."""
    command.upgrade(alembic_config(url), "head")

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


class _SqliteWriterLock:
    """SQLite has one writer at a time, and writers that wait for it in SQLite's busy handler
    sleep in growing steps (1, 2, 5 ... 100 ms) and can starve: long tails under load, and
    idle cores while a process sleeps. Writers wait on locks of ours instead, handed over as
    soon as they are released: a thread lock in the process, then an flock on a file beside
    the database for the other processes (web workers, Celery workers)."""

    def __init__(self, path: str | None):
        self._threads = threading.RLock()
        self._path = f"{path}.writelock" if path and path != ":memory:" else None
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self):
        self._threads.acquire()
        self._depth += 1
        if self._depth == 1 and self._path and not os.environ.get("NOFLOCK"):
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._threads.release()
                raise
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0 and self._path and not os.environ.get("NOFLOCK"):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _file(self) -> int:
        # a forked child must not share its parent's open file: flock would let both in
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


_WRITER_LOCKS: dict[str, _SqliteWriterLock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(engine):
    """The SQLite writers' lock of `engine`'s file (see _SqliteWriterLock); other databases
    need none. One lock a file, shared by every engine on it in this process, so a
    transaction opened inside another on the same file re-enters instead of waiting forever."""
    if engine is None or engine.dialect.name != "sqlite":
        return nullcontext()
    database = engine.url.database
    key = os.path.realpath(database) if database and database != ":memory:" else f"memory:{id(engine)}"
    with _WRITER_LOCKS_GUARD:
        if key not in _WRITER_LOCKS:
            _WRITER_LOCKS[key] = _SqliteWriterLock(None if key.startswith("memory:") else key)
        return _WRITER_LOCKS[key]


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    lock = _writer_lock(factory.kw.get("bind"))
    with lock, factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the catalogue schema up to date (safe to run on every start)."""
    command.upgrade(alembic_config(url), "head")

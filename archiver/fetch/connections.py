"""Connections kept open between the fetches of one piece of work, such as a batch of captures.

Outside `kept_connections()` every fetch asks for `Connection: close` and closes its
connection after its response, as it always did. Inside it, a connection that carried a
complete response is parked, and the next exchange with the same host name, port and
checked address takes it instead of connecting again. The address guard still judges
every hop before a connection is taken (archiver/fetch/guard.py), so a parked connection
is only ever reused for an address the guard has just allowed again.

The block's connections are closed when it ends, unless it was given a `KeptConnections`
that outlives it: a worker process keeps one across its capture tasks
(workers/context.py), and closes a connection that waited more than `idle_seconds`
instead of reusing it.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from urllib3.connectionpool import HTTPConnectionPool

# Parked pools, each with at most one connection; the oldest is closed past this.
MAX_PARKED = 8
# A worker's connection idle for longer is closed, not reused: below the 5 s after which
# common servers (Apache's default) close an idle connection themselves.
IDLE_SECONDS = 4.0

_current: ContextVar["KeptConnections | None"] = ContextVar("kept_connections", default=None)


class KeptConnections:
    """Pools of one connection each, parked by key; one exchange holds a pool at a time."""

    def __init__(self, max_parked: int = MAX_PARKED, idle_seconds: float = IDLE_SECONDS,
                 clock=time.monotonic):
        self.max_parked, self.idle_seconds, self._clock = max_parked, idle_seconds, clock
        self._lock = threading.Lock()
        # id(pool) -> (key, pool, parked at), oldest first
        self._parked: OrderedDict[int, tuple[tuple, HTTPConnectionPool, float]] = OrderedDict()

    def take(self, key: tuple) -> HTTPConnectionPool | None:
        found = None
        with self._lock:
            stale = self._expire()
            for ident, (parked_key, pool, _at) in self._parked.items():
                if parked_key == key:
                    del self._parked[ident]
                    found = pool
                    break
        _close_all(stale)
        return found

    def park(self, key: tuple, pool: HTTPConnectionPool) -> None:
        with self._lock:
            self._parked[id(pool)] = (key, pool, self._clock())
            stale = self._expire()
            while len(self._parked) > self.max_parked:
                stale.append(self._parked.popitem(last=False)[1][1])
        _close_all(stale)

    def close(self) -> None:
        with self._lock:
            pools = [pool for _key, pool, _at in self._parked.values()]
            self._parked.clear()
        _close_all(pools)

    def __len__(self) -> int:
        return len(self._parked)

    def _expire(self) -> list[HTTPConnectionPool]:
        """Take out the pools parked for longer than idle_seconds (the lock is held)."""
        limit = self._clock() - self.idle_seconds
        stale = [ident for ident, (_key, _pool, at) in self._parked.items() if at < limit]
        return [self._parked.pop(ident)[1] for ident in stale]


def _close_all(pools: list[HTTPConnectionPool]) -> None:
    for pool in pools:
        pool.close()


@contextmanager
def kept_connections(kept: KeptConnections | None = None) -> Iterator[KeptConnections]:
    """Fetches in this block (in this thread or task) reuse each other's connections, and
    those `kept` holds; without `kept`, the block's own are closed when it ends."""
    owned = kept is None
    kept = KeptConnections() if kept is None else kept
    token = _current.set(kept)
    try:
        yield kept
    finally:
        _current.reset(token)
        if owned:
            kept.close()


def current() -> KeptConnections | None:
    return _current.get()

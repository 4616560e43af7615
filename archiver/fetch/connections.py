"""Connections kept open between the fetches of one piece of work, such as a batch of captures.

Outside `kept_connections()` every fetch asks for `Connection: close` and closes its
connection after its response, as it always did. Inside it, a connection that carried a
complete response is parked, and the next exchange with the same host name, port and
checked address takes it instead of connecting again. The address guard still judges
every hop before a connection is taken (archiver/fetch/guard.py), so a parked connection
is only ever reused for an address the guard has just allowed again.

The parked connections are closed when the block ends: nothing stays open between
batches, so a server never holds an idle connection of ours for longer than a batch.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from urllib3.connectionpool import HTTPConnectionPool

# Parked pools, each with at most one connection; the oldest is closed past this.
MAX_PARKED = 8

_current: ContextVar["KeptConnections | None"] = ContextVar("kept_connections", default=None)


class KeptConnections:
    """Pools of one connection each, parked by key; one exchange holds a pool at a time."""

    def __init__(self, max_parked: int = MAX_PARKED):
        self.max_parked = max_parked
        self._lock = threading.Lock()
        self._parked: OrderedDict[int, tuple[tuple, HTTPConnectionPool]] = OrderedDict()

    def take(self, key: tuple) -> HTTPConnectionPool | None:
        with self._lock:
            for ident, (parked_key, pool) in self._parked.items():
                if parked_key == key:
                    del self._parked[ident]
                    return pool
        return None

    def park(self, key: tuple, pool: HTTPConnectionPool) -> None:
        with self._lock:
            self._parked[id(pool)] = (key, pool)
            oldest = []
            while len(self._parked) > self.max_parked:
                oldest.append(self._parked.popitem(last=False)[1][1])
        for pool in oldest:
            pool.close()

    def close(self) -> None:
        with self._lock:
            pools = [pool for _key, pool in self._parked.values()]
            self._parked.clear()
        for pool in pools:
            pool.close()


@contextmanager
def kept_connections(max_parked: int = MAX_PARKED) -> Iterator[KeptConnections]:
    """Fetches in this block (in this thread or task) reuse each other's connections."""
    kept = KeptConnections(max_parked)
    token = _current.set(kept)
    try:
        yield kept
    finally:
        _current.reset(token)
        kept.close()


def current() -> KeptConnections | None:
    return _current.get()

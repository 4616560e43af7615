"""Blocking file work (fsync, rename) run beside the CPU work that does not depend on it.

An fsync holds no lock of the interpreter while the disk answers, so a thread of the
same process can wait for it while the caller goes on computing: storing a batch
(archiver/storing.py) makes its replay index lines while the WARC file is fsynced, and
writes its catalogue rows while the index file is fsynced. Only file work goes here:
Python work in two threads at once would only share one core (docs/deploy.md, Throughput).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pid: int | None = None


def in_background(work: Callable[..., T], *args) -> Future[T]:
    """Start `work(*args)` in this process's file thread; its result or error comes
    from the future. One thread: work handed over in turn runs in that order."""
    global _pool, _pid
    with _lock:
        if _pool is None or _pid != os.getpid():     # a forked worker gets its own thread
            _pool, _pid = ThreadPoolExecutor(max_workers=1, thread_name_prefix="file-sync"), os.getpid()
        return _pool.submit(work, *args)

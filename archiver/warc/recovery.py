"""Sealing the WARC files a dead process left behind.

A worker killed mid-write leaves `<name>.warc.gz.open` in the open folder, perhaps ending
in a partial gzip member. `recover_open_files` cuts each such file back to the end of its
last whole gzip member (every record is one member, so that is the end of its last whole
record) and seals it like the writer would. A file renamed out of `.open` whose storage
put did not finish (`<name>.warc.gz` in the open folder) is put into storage as it is.

Which files are taken: never one whose writer still holds it (each writer keeps an
exclusive flock on its file while writing). By default also only files whose name says
they were made on this host by a process that is no longer running; `all_files=True`
takes every unlocked file (e.g. after a move to a new host, or when no worker runs).

Records of a capture that was interrupted may remain in the sealed file (whole records
only); the catalogue never marked that capture stored, and it is captured again.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Callable

from archiver.config import Settings
from archiver.warc.members import iter_members
from archiver.warc.names import OPEN_SUFFIX, parse_filename, safe_hostname
from archiver.warc.writer import SealedFile, _fsync_dir, store_file
from storage import Storage

log = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_open_files(settings: Settings, storage: Storage,
                       on_seal: Callable[[SealedFile], None] | None = None,
                       all_files: bool = False) -> list[SealedFile]:
    """Repair and seal left-over files in `settings.open_warc_dir`; return what was sealed.

    A file with no whole record at all is deleted (nothing was ever recorded in it).
    """
    folder = settings.open_warc_dir
    if not folder.is_dir():
        return []
    host = safe_hostname(settings.hostname)
    sealed: list[SealedFile] = []
    for path in sorted(folder.iterdir()):
        parsed = parse_filename(path.name)
        if parsed is None or not path.is_file():
            continue
        if not all_files and (parsed.hostname != host or parsed.pid == os.getpid()
                              or pid_alive(parsed.pid)):
            continue
        result = _recover_one(path, storage, on_seal)
        if result is not None:
            sealed.append(result)
    return sealed


def _recover_one(path: Path, storage: Storage,
                 on_seal: Callable[[SealedFile], None] | None) -> SealedFile | None:
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:       # another process got there first
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None             # a live writer holds it
        if not path.exists():       # sealed by its owner between our listing and our lock
            return None
        good_end, count = 0, 0
        for member in iter_members(handle):
            if member.status != "ok":
                break
            good_end, count = member.offset + member.length, count + 1
        size = handle.seek(0, os.SEEK_END)
        if good_end != size:
            log.warning("%s: cutting %d bytes of partial record after offset %d",
                        path.name, size - good_end, good_end)
            handle.truncate(good_end)
        handle.flush()
        os.fsync(handle.fileno())
        if count == 0:
            log.warning("%s: no whole record; removing it", path.name)
            path.unlink()
            _fsync_dir(path.parent)
            return None
        final = path
        if path.name.endswith(OPEN_SUFFIX):
            final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
            os.replace(path, final)
            _fsync_dir(final.parent)
        sealed = store_file(storage, final, count, on_seal)
        log.info("recovered %s: %d records, %d bytes", sealed.key, count, sealed.size)
        return sealed

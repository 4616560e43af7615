"""One worker's WARC file: open it, append captures durably, roll it, seal it into storage.

Life of a file (see docs/warc.md):
  1. created as `<open_warc_dir>/<name>.warc.gz.open`, locked (flock) while this writer
     holds it, starting with a `warcinfo` record; then `on_open(name)` is called;
  2. each capture appends its records, every record its own gzip member, then flush and
     fsync: `write_capture` returns only when the records are durable;
  3. once the file reaches `warc_roll_bytes` after a capture, or on `seal()`/`close()`,
     it is sealed: fsynced, renamed to drop `.open`, hashed (sha256, size), put into
     storage under key = its name (a rename for local storage on the same disk), the
     local copy removed, and `on_seal(SealedFile)` called.
"""
from __future__ import annotations

import ctypes
import fcntl
import hashlib
import logging
import os
import platform
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import BinaryIO, Callable

from archiver import SOFTWARE_NAME, __version__
from archiver.config import Settings
from archiver.warc.compression import compressobj_factory
from archiver.warc.names import OPEN_SUFFIX, warc_filename
from archiver.warc.record_ids import random_record_id
from archiver.warc.records import (
    CONFORMS_TO, CaptureRecords, GzipMember, RecordLocation, Sha256WARCWriter, plan_capture,
    warcinfo_record,
)
from storage import Storage
from storage.base import StorageIntegrityError, sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WrittenCapture:
    filename: str                     # the WARC file's name (its storage key once sealed)
    records: list[RecordLocation]


@dataclass(frozen=True)
class SealedFile:
    key: str                          # storage key, equal to the file name
    size: int
    sha256: str                       # hex, of the whole file
    record_count: int                 # warcinfo included


class SealError(RuntimeError):
    """A finished WARC file could not be put into storage; it is kept locally for a retry."""


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the disk start writing these bytes now, without waiting for it: the fsync
    that makes the batch durable (`sync`) then finds most of them written. Only a head
    start: durability still comes from that fsync alone."""
    if _sync_file_range is not None and length > 0:
        # errors are not checked: where it does nothing, the fsync does all the work
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _load_sync_file_range():
    """Linux's sync_file_range(2) from the C library (Python has no binding), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2      # start writing out the dirty pages of the range; do not wait
_sync_file_range = _load_sync_file_range()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def software_string() -> str:
    return (f"{SOFTWARE_NAME}/{__version__} (Python/{platform.python_version()}; "
            f"warcio/{_version('warcio')}; requests/{_version('requests')})")


@dataclass
class _OpenFile:
    name: str
    path: Path                        # the .open path
    handle: BinaryIO
    record_count: int = 0


def store_file(storage: Storage, path: Path, record_count: int,
               on_seal: Callable[[SealedFile], None] | None) -> SealedFile:
    """Hash a finished file, put it into storage under its name, remove it, call on_seal."""
    size, sha256 = sha256_file(path)
    try:
        stored = storage.put(path.name, path, move=True)
    except StorageIntegrityError as exc:     # the backend's own read-back disagreed
        raise SealError(str(exc)) from exc
    if stored.size != size or stored.sha256 != sha256:
        raise SealError(f"storage holds {stored.size} bytes sha256 {stored.sha256} for {path.name}, "
                        f"but the file had {size} bytes sha256 {sha256}")
    path.unlink(missing_ok=True)
    sealed = SealedFile(key=stored.key, size=size, sha256=sha256, record_count=record_count)
    if on_seal is not None:
        on_seal(sealed)
    return sealed


def _describe_stored(storage: Storage, key: str, record_count: int) -> SealedFile:
    digest, size = hashlib.sha256(), 0
    with storage.open(key) as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return SealedFile(key=key, size=size, sha256=digest.hexdigest(), record_count=record_count)


@dataclass
class _Pending:
    """A file renamed out of `.open` whose storage put or on_seal call failed."""
    path: Path
    record_count: int
    sealed: SealedFile | None = None  # set once it is in storage (only on_seal failed)


class WarcFileWriter:
    """Appends captures to one `.open` WARC file at a time. One per worker process; thread-safe.

    `now()` and `new_record_id()` are the only sources of time and randomness: override
    them (subclass) to get byte-identical output in tests.
    """

    def __init__(self, settings: Settings, storage: Storage,
                 on_open: Callable[[str], None] | None = None,
                 on_seal: Callable[[SealedFile], None] | None = None):
        self.settings = settings
        self.storage = storage
        self.on_open = on_open
        self.on_seal = on_seal
        self._lock = threading.Lock()
        self._builder = Sha256WARCWriter()
        self._compressobj = compressobj_factory(settings.warc_gzip_engine)
        self._file: _OpenFile | None = None
        self._serial = 0
        self._pid = os.getpid()
        self._pending: list[_Pending] = []

    # -- the overridable clock and id source ------------------------------------------
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def new_record_id(self) -> str:
        return random_record_id()

    # -- public API ------------------------------------------------------------------
    @property
    def current_filename(self) -> str | None:
        """Name of the file being written now (without `.open`), if any."""
        return self._file.name if self._file else None

    def warcinfo_fields(self) -> dict[str, str]:
        fields = {
            "software": software_string(),
            "format": "WARC File Format 1.1",
            "conformsTo": CONFORMS_TO,
            "hostname": self.settings.hostname,
            "operator": self.settings.operator,
            "http-header-user-agent": self.settings.user_agent,
        }
        return {k: v for k, v in fields.items() if v}

    def write_capture(self, capture: CaptureRecords, durable: bool = True) -> WrittenCapture:
        """Append one capture's records; return once they are flushed and fsynced.

        With `durable=False` they are flushed but not fsynced: the caller calls `sync()`
        before anything names them (several captures stored together share one fsync).
        If anything fails before the records are written, the file is cut back to where
        this capture began and the error is raised: no half capture stays in the file.
        """
        with self._lock:
            self._check_fork()
            planned = plan_capture(capture, self._builder, self.new_record_id, self.now())
            current = self._file or self._open_new()
            start = current.handle.tell()
            try:
                locations = [self._write_one(current, p.record, p.record_type, p.target_uri,
                                             p.record_id, p.refers_to, p.requisite, p.http_head)
                             for p in planned]
                current.handle.flush()
                if durable:
                    os.fsync(current.handle.fileno())
                else:
                    _start_writeback(current.handle.fileno(), start, current.handle.tell() - start)
            except BaseException:
                self._cut_back(current, start)
                raise
            current.record_count += len(locations)
            written = WrittenCapture(filename=current.name, records=locations)
            if current.handle.tell() >= self.settings.warc_roll_bytes:
                self._roll()
            return written

    def sync(self) -> None:
        """Make every record written so far durable (a file rolled meanwhile was fsynced
        when it was sealed). If the fsync fails, the file is left for recovery, as a
        failed cut-back leaves it, and the error is raised: what it holds is unknown."""
        with self._lock:
            self._check_fork()
            current = self._file
            if current is None:
                return
            try:
                current.handle.flush()
                os.fsync(current.handle.fileno())
            except OSError:
                log.exception("could not fsync %s; leaving it for recovery", current.path)
                self._abandon(current)
                raise

    def seal(self) -> SealedFile | None:
        """Seal the current file into storage (None if no file is open).

        Files whose earlier sealing failed are retried first; if one still fails, SealError.
        """
        with self._lock:
            self._check_fork()
            self._retry_pending()
            sealed = self._seal_current()
            if self._pending:
                raise SealError("WARC files could not be sealed into storage and wait in "
                                f"{self.settings.open_warc_dir}: "
                                + ", ".join(p.path.name for p in self._pending))
            return sealed

    def close(self) -> SealedFile | None:
        """Seal what is open. The writer stays usable: the next capture opens a new file."""
        return self.seal()

    # -- internals -------------------------------------------------------------------
    def _check_fork(self) -> None:
        """After a fork, leave the parent's file alone and start our own."""
        if os.getpid() != self._pid:
            if self._file is not None:
                self._file.handle.close()    # our buffer is empty between captures
            self._file, self._pending, self._pid, self._serial = None, [], os.getpid(), 0

    def _open_new(self) -> _OpenFile:
        folder = self.settings.open_warc_dir
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            self._serial += 1
            name = warc_filename(self.now(), self.settings.hostname, self._pid, self._serial)
            path = folder / f"{name}{OPEN_SUFFIX}"
            try:
                handle = open(path, "xb")
            except FileExistsError:
                continue
            break
        current = _OpenFile(name=name, path=path, handle=handle)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            record = warcinfo_record(self._builder, self.new_record_id(), self.now(), name,
                                     self.warcinfo_fields())
            self._write_one(current, record, "warcinfo", None, "", None)
            handle.flush()
            os.fsync(handle.fileno())
            _fsync_dir(folder)
            current.record_count = 1
            if self.on_open is not None:
                self.on_open(name)
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        self._file = current
        return current

    def _write_one(self, current: _OpenFile, record, record_type: str, target_uri: str | None,
                   record_id: str, refers_to: str | None, requisite: bool = False,
                   http_head: bytes | None = None) -> RecordLocation:
        """Write one record as a gzip member. With the HTTP headers opening its block
        (`PlannedRecord.http_head`), the location keeps the record's head."""
        out = current.handle
        offset = out.tell()
        member = GzipMember(out, self.settings.warc_gzip_level, self._compressobj)
        self._builder.out = member
        self._builder.write_record(record)
        headers = record.rec_headers
        # the WARC headers, Content-Length set, are what warcio's writer wrote first
        head = None if http_head is None else member.first_write + http_head
        return RecordLocation(
            record_type=record_type, target_uri=target_uri, record_id=record_id,
            offset=offset, length=out.tell() - offset,
            block_digest=headers.get_header("WARC-Block-Digest"),
            payload_digest=headers.get_header("WARC-Payload-Digest"),
            refers_to=refers_to, requisite=requisite, head=head)

    def _cut_back(self, current: _OpenFile, start: int) -> None:
        try:
            current.handle.seek(start)
            current.handle.truncate(start)
            current.handle.flush()
            os.fsync(current.handle.fileno())
        except OSError:
            # the file is in an unknown state: stop using it
            log.exception("could not cut %s back to %d; leaving it for recovery", current.path, start)
            self._abandon(current)

    def _abandon(self, current: _OpenFile) -> None:
        """Stop using the file. Its lock goes with the handle, so recover_open_files will
        cut it at its last whole record and seal it."""
        try:
            current.handle.close()
        except OSError:
            pass
        self._file = None

    def _roll(self) -> None:
        self._retry_pending()
        try:
            self._seal_current()
        except Exception:
            # The capture just written is durable; a storage failure must not undo it.
            # The file is remembered and sealing is retried by seal()/close(), which raise.
            log.exception("sealing %s after it reached the roll size failed; will retry",
                          self._pending[-1].path if self._pending else "the WARC file")

    def _seal_current(self) -> SealedFile | None:
        current = self._file
        if current is None:
            return None
        handle = current.handle
        handle.flush()
        os.fsync(handle.fileno())
        final = current.path.with_name(current.name)
        os.replace(current.path, final)      # still locked: the lock follows the open file
        _fsync_dir(final.parent)
        self._file = None
        pending = _Pending(final, current.record_count)
        self._pending.append(pending)
        try:
            sealed = self._store(pending)
        finally:
            handle.close()
        return sealed

    def _store(self, pending: _Pending) -> SealedFile:
        if pending.sealed is None and not pending.path.exists() and self.storage.exists(pending.path.name):
            # stored meanwhile (by recover_open_files with all_files=True): describe what is there
            pending.sealed = _describe_stored(self.storage, pending.path.name, pending.record_count)
        if pending.sealed is None:
            pending.sealed = store_file(self.storage, pending.path, pending.record_count, None)
        if self.on_seal is not None:
            self.on_seal(pending.sealed)
        self._pending.remove(pending)
        return pending.sealed

    def _retry_pending(self) -> None:
        for pending in list(self._pending):
            try:
                self._store(pending)
            except Exception:
                log.exception("sealing %s failed again", pending.path.name)

"""Reading our WARCs back: one record by byte range, or a whole file checked end to end."""
from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

from archiver.config import Settings
from archiver.warc.members import iter_members
from archiver.warc.names import OPEN_SUFFIX
from storage import Storage

CHUNK = 1024 * 1024
HEADER_PREFIX = 64 * 1024      # enough compressed bytes for any record's WARC headers


def record_bytes(storage: Storage, settings: Settings, filename: str, offset: int, length: int) -> bytes:
    """The gzip member at (offset, length) of a WARC file: from storage once sealed, else
    from the local `.open` file (or the local sealed file waiting to go into storage)."""
    if storage.exists(filename):
        return storage.read_range(filename, offset, length)
    local = local_member(settings, filename, offset, length)
    # None: sealed while we looked
    return local if local is not None else storage.read_range(filename, offset, length)


def local_member(settings: Settings, filename: str, offset: int, length: int) -> bytes | None:
    """The bytes at (offset, length) of the worker's local copy of a WARC file: the `.open`
    file, or the sealed one waiting to go into storage; None when neither is there."""
    for candidate in (settings.open_warc_dir / f"{filename}{OPEN_SUFFIX}",
                      settings.open_warc_dir / filename):
        try:
            with open(candidate, "rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except FileNotFoundError:
            continue
    return None


def parse_record(data: bytes, check_digests: bool = False) -> ArcWarcRecord:
    """One WARC record from the bytes of its gzip member (or of an uncompressed record)."""
    stream = DecompressingBufferedReader(io.BytesIO(data))
    return ArcWarcRecordLoader().parse_record_stream(stream, check_digests=check_digests)


def read_record(storage: Storage, settings: Settings, filename: str, offset: int, length: int,
                check_digests: bool = False) -> ArcWarcRecord:
    """The record at (offset, length) of a WARC file, parsed by warcio.

    `record.raw_stream` holds its block after the HTTP headers (`record.http_headers`);
    `record.content_stream()` undoes chunking and content encoding. With
    `check_digests=True`, read the stream to its end and look at `record.digest_checker`.
    Raises StorageKeyNotFound when the file is nowhere.
    """
    data = record_bytes(storage, settings, filename, offset, length)
    if len(data) != length:
        raise ValueError(f"{filename}: wanted {length} bytes at offset {offset}, got {len(data)}")
    return parse_record(data, check_digests=check_digests)


def record_headers(storage: Storage, settings: Settings, filename: str, offset: int,
                   length: int) -> StatusAndHeaders:
    """The WARC headers of the record at (offset, length), reading only the start of it."""
    data = record_bytes(storage, settings, filename, offset, min(length, HEADER_PREFIX))
    head = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(data, HEADER_PREFIX)
    end = head.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError(f"{filename}: no whole WARC header block at offset {offset}")
    return StatusAndHeadersParser(["WARC/1.1", "WARC/1.0"]).parse(io.BytesIO(head[:end + 4]))


def _revisit_block_digest(handle: BinaryIO, offset: int, length: int) -> str | None:
    """sha256 of a record's block, read from its gzip member (warcio checks no revisit)."""
    handle.seek(offset)
    data = zlib.decompress(handle.read(length), zlib.MAX_WBITS + 16)
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    headers = StatusAndHeadersParser(["WARC/1.1", "WARC/1.0"]).parse(io.BytesIO(data[:end + 4]))
    size = int(headers.get_header("Content-Length") or 0)
    block = data[end + 4:end + 4 + size]
    return "sha256:" + base64.b32encode(hashlib.sha256(block).digest()).decode("ascii")


@dataclass(frozen=True)
class RecordSummary:
    offset: int
    length: int
    record_type: str
    record_id: str | None
    target_uri: str | None


@dataclass
class VerifyReport:
    """What `verify_warc_file` found. `ok` is True only when `problems` is empty."""
    size: int = 0
    sha256: str = ""
    record_count: int = 0
    records: list[RecordSummary] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False           # the file ends inside a gzip member
    garbage_bytes: int = 0            # bytes after the last whole member that are not gzip
    good_length: int = 0              # bytes up to the end of the last whole gzip member

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_warc_file(source: str | Path | BinaryIO) -> VerifyReport:
    """Check a .warc.gz completely; never raises for a bad file, reports instead.

    - reads the gzip stream to its very end: a member cut short or bytes that are not
      gzip are problems (`warcio check` passes some truncated files);
    - every record must be its own gzip member;
    - every record must carry a WARC-Block-Digest, and every digest present must be
      checked and match (a digest that could not be checked is a problem);
    - reports the whole file's size and sha256 and the number of records.
    """
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            return _verify(handle)
    if source.seekable():
        source.seek(0)
        return _verify(source)
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(source, spool, CHUNK)
        spool.seek(0)
        return _verify(spool)


def _verify(handle: BinaryIO) -> VerifyReport:
    report = VerifyReport()
    hasher = hashlib.sha256()
    members = []
    for member in iter_members(handle, on_bytes=hasher.update):
        if member.status == "ok":
            members.append(member)
            report.good_length = member.offset + member.length
        elif member.status == "truncated":
            report.truncated = True
            report.problems.append(f"the file ends inside a gzip member that starts at offset "
                                   f"{member.offset} ({member.length} bytes): truncated")
        else:
            report.garbage_bytes = member.length
            report.problems.append(f"{member.length} bytes at offset {member.offset} are not a "
                                   "valid gzip member")
    report.size = handle.tell()
    report.sha256 = hasher.hexdigest()
    if not members:
        report.problems.append("no complete gzip member: not a .warc.gz file, or empty")
        return report

    handle.seek(0)
    limited = io.BufferedReader(_Prefix(handle, report.good_length), CHUNK)
    iterator = ArchiveIterator(limited, check_digests=True)
    revisits: list[tuple[str, int, int, str | None]] = []
    try:
        for index, record in enumerate(iterator):
            rec_id = record.rec_headers.get_header("WARC-Record-ID")
            label = f"record {index} ({record.rec_type} {rec_id})"
            while record.raw_stream.read(CHUNK):
                pass
            offset, length = iterator.get_record_offset(), iterator.get_record_length()
            report.records.append(RecordSummary(offset, length, record.rec_type, rec_id,
                                                record.rec_headers.get_header("WARC-Target-URI")))
            if record.rec_type == "revisit":
                # warcio checks no digest of a revisit: its block is checked below, and its
                # payload digest is the one of the record it refers to
                revisits.append((label, offset, length, record.rec_headers.get_header("WARC-Block-Digest")))
            else:
                _check_digests(record, label, report)
            if index >= len(members) or (members[index].offset, members[index].length) != (offset, length):
                report.problems.append(f"{label} at offset {offset} is not exactly one gzip member")
    except Exception as exc:  # noqa: BLE001  (any parse failure is a finding, not a crash)
        report.problems.append(f"reading records failed after {len(report.records)} records: "
                               f"{type(exc).__name__}: {exc}")
    for label, offset, length, expected in revisits:
        if not expected:
            report.problems.append(f"{label} has no WARC-Block-Digest")
        elif not expected.lower().startswith("sha256:"):
            report.problems.append(f"{label}: digest present but not checked")
        elif _revisit_block_digest(handle, offset, length) != expected:
            report.problems.append(f"{label}: block digest does not match")
    report.record_count = len(report.records)
    if report.record_count != len(members):
        report.problems.append(f"{len(members)} gzip members but {report.record_count} records")
    return report


def _check_digests(record: ArcWarcRecord, label: str, report: VerifyReport) -> None:
    headers = record.rec_headers
    block = headers.get_header("WARC-Block-Digest")
    payload = headers.get_header("WARC-Payload-Digest")
    checker = record.digest_checker
    if not block:
        report.problems.append(f"{label} has no WARC-Block-Digest")
    for problem in (checker.problems if checker else []):
        report.problems.append(f"{label}: {problem}")
    if (block or payload) and (checker is None or checker.passed is not True):
        if not (checker and checker.problems) and not _digests_of_empty_block(headers):
            report.problems.append(f"{label}: digest present but not checked")


def _digests_of_empty_block(headers: StatusAndHeaders) -> bool:
    """A record with an empty block (wget's empty wget.log) whose digests are those of no
    bytes: warcio leaves such digests unchecked, so they are checked here."""
    if (headers.get_header("Content-Length") or "").strip() != "0":
        return False
    stated = [d for d in (headers.get_header("WARC-Block-Digest"),
                          headers.get_header("WARC-Payload-Digest")) if d]
    return bool(stated) and all(_is_digest_of_nothing(d) for d in stated)


def _is_digest_of_nothing(stated: str) -> bool:
    algorithm, _, value = stated.partition(":")
    try:
        digest = hashlib.new(algorithm.strip().lower().replace("-", ""), b"").digest()
    except ValueError:
        return False
    value = value.strip()
    return value in (base64.b32encode(digest).decode("ascii"), digest.hex(), digest.hex().upper(),
                     base64.b64encode(digest).decode("ascii"))


class _Prefix(io.RawIOBase):
    """The first `limit` bytes of a file, so warcio never reads into a broken tail."""

    def __init__(self, handle: BinaryIO, limit: int):
        self._handle, self._left = handle, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        count = self._handle.readinto(view)
        self._left -= count or 0
        return count or 0

"""Reading a source WARC once: check every record, copy the good ones into the file we keep.

The kept file holds the source's good records in their order. A record that was its own
gzip member in the source (wget, warcio, Heritrix, Browsertrix all write them so) is copied
as the very same compressed bytes; so a source without damage is kept byte for byte, with
the same sha256. Records of an uncompressed WARC, or of a gzip member holding several,
are compressed one per member (what byte-range replay needs); their bytes inside are the
source's. A record without a WARC-Block-Digest gets a sha256 one added to its header (the
fixity audit requires one); every such change is listed in the report.
"""
from __future__ import annotations

import hashlib
import io
import mmap
import os
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

from archiver.importer.members import GZIP_MAGIC, walk_members
from archiver.importer.records import Damage, FoundRecord, digest_problem, split_records, with_block_digest

IN_MEMORY = 64 * 1024 * 1024       # an inflated member larger than this is spooled to disk


@dataclass
class KeptRecord:
    """A record of the kept file, with where it was in the source."""
    offset: int                    # in the kept file
    length: int
    source_offset: int             # of its gzip member (or of the record, uncompressed) in the source
    rec_type: str
    record_id: str
    target_uri: str | None
    warc_date: str
    warcinfo_id: str | None
    concurrent_to: list[str]
    block_digest: str | None
    payload_digest: str | None
    verbatim: bool                 # the source's compressed bytes, unchanged
    added_block_digest: bool = False
    fields: dict | None = None     # a warcinfo record's fields


@dataclass
class Problem:
    """Something in the source that was not imported: where, and what is wrong."""
    offset: int
    length: int
    what: str
    record_id: str | None = None

    def __str__(self) -> str:
        who = f" (record {self.record_id})" if self.record_id else ""
        return f"offset {self.offset}, {self.length} bytes{who}: {self.what}"


@dataclass
class ScanResult:
    size: int = 0
    sha256: str = ""
    compressed: bool = True
    records: list[KeptRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set, repr=False)


class _Inflated:
    """The inflated bytes of one gzip member: in memory, or spooled to disk when large."""

    def __init__(self):
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file = None
        self._map = None

    def write(self, _offset: int, chunk: bytes) -> None:
        if self._memory is not None:
            self._memory.write(chunk)
            if self._memory.tell() > IN_MEMORY:
                self._file = tempfile.TemporaryFile()
                self._file.write(self._memory.getbuffer())
                self._memory = None
        else:
            self._file.write(chunk)

    def data(self):
        if self._memory is not None:
            return self._memory.getvalue()
        self._file.flush()
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        if self._file is not None:
            self._file.close()


def file_sha256(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def scan_source(path: Path, out: BinaryIO, gzip_level: int = 6,
                progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """Check `path` record by record and write its good records to `out` (at its start).

    Never raises for bad content: every problem is in the result, with its offset.
    `progress(bytes_read, total)` is called as the source is read."""
    result = ScanResult()
    result.size, result.sha256 = file_sha256(path)
    if result.size == 0:
        result.problems.append(Problem(0, 0, "the file is empty"))
        return result
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        report = (lambda position: progress(position, result.size)) if progress else None
        if data[:3] == GZIP_MAGIC:
            _scan_gzip(data, out, gzip_level, result, report)
        elif data[:6] == b"WARC/1":
            result.compressed = False
            _keep_records(data, 0, None, out, gzip_level, result, report)
        else:
            start = bytes(data[:16])
            result.problems.append(Problem(0, result.size, f"not a WARC file: it starts with {start!r}, "
                                           "neither a gzip member nor 'WARC/1.'"))
        if report:
            report(result.size)
    out.flush()
    os.fsync(out.fileno())
    return result


def _scan_gzip(data, out, gzip_level: int, result: ScanResult, report) -> None:
    inflated = _Inflated()
    try:
        for member in walk_members(data, lambda at, chunk: inflated.write(at, chunk), report):
            if member.status != "ok":
                what = ("truncated: " if member.status == "truncated" else "damaged gzip data: ") + member.error
                result.problems.append(Problem(member.offset, member.length, what))
            else:
                _keep_records(inflated.data(), member.offset, bytes(data[member.offset:member.offset + member.length]),
                              out, gzip_level, result)
            inflated.close()
            inflated = _Inflated()
    finally:
        inflated.close()


def _keep_records(plain, source_offset: int, member: bytes | None, out, gzip_level: int,
                  result: ScanResult, report=None) -> None:
    """The records of `plain` (the inflated bytes of the source member starting at
    `source_offset`, whose compressed bytes are `member`; or the whole uncompressed file)."""
    found = list(split_records(plain))
    whole = (member is not None and len(found) == 1 and isinstance(found[0], FoundRecord)
             and found[0].start == 0 and found[0].end == len(plain))
    for item in found:
        at = source_offset if member is not None else item.start
        if isinstance(item, Damage):
            result.problems.append(Problem(at, member and len(member) or item.length, item.what,
                                           item.record_id))
            continue
        record_id = item.header("WARC-Record-ID")
        if record_id in result.seen_ids:
            result.problems.append(Problem(at, len(member) if member else item.end - item.start,
                                           "a second record with the same WARC-Record-ID", record_id))
            continue
        problem = digest_problem(plain, item)
        if problem:
            result.problems.append(Problem(at, len(member) if member else item.end - item.start,
                                           f"{item.rec_type} record: {problem}", item.header("WARC-Record-ID")))
            continue
        added = None
        if not item.header("WARC-Block-Digest"):
            raw, added = with_block_digest(plain, item)
            written, verbatim = _gzip(raw, gzip_level), False
        elif whole:
            written, verbatim = member, True
        else:
            written, verbatim = _gzip(bytes(plain[item.start:item.end]), gzip_level), False
        offset = out.tell()
        out.write(written)
        result.records.append(_kept(item, offset, len(written), at, verbatim, added, plain))
        result.seen_ids.add(record_id)
        if report is not None and member is None:
            report(item.end)


def _gzip(raw: bytes, level: int) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return packer.compress(raw) + packer.flush()


def _kept(item: FoundRecord, offset: int, length: int, source_offset: int, verbatim: bool,
          added: str | None, plain) -> KeptRecord:
    """`added`: the block digest the import added (the record had none)."""
    concurrent = [v for k, v in item.headers.headers if k.lower() == "warc-concurrent-to"]
    fields = _warcinfo_fields(plain, item) if item.rec_type == "warcinfo" else None
    block = added or item.header("WARC-Block-Digest")
    return KeptRecord(offset=offset, length=length, source_offset=source_offset, rec_type=item.rec_type,
                      record_id=item.header("WARC-Record-ID"), target_uri=item.header("WARC-Target-URI"),
                      warc_date=item.header("WARC-Date"), warcinfo_id=item.header("WARC-Warcinfo-ID"),
                      concurrent_to=concurrent, block_digest=block,
                      payload_digest=item.header("WARC-Payload-Digest"), verbatim=verbatim,
                      added_block_digest=added is not None, fields=fields)


def _warcinfo_fields(plain, item: FoundRecord) -> dict:
    """A warcinfo block's `name: value` lines (application/warc-fields), in order."""
    raw = bytes(plain[item.start:item.end])
    block = raw[raw.find(b"\r\n\r\n") + 4:len(raw) - 4]
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            key = name.strip()
            fields[key] = f"{fields[key]}\n{value.strip()}" if key in fields else value.strip()
    return fields

"""Finding the WARC records in uncompressed bytes, checking each one on its own.

The framing is read here (header block, Content-Length, the blank lines after the block)
so that a record with a broken header costs only that record: the search then moves to the
next line that starts with `WARC/1.`. Digests are checked by warcio, the same code the
fixity audit uses, so what the import accepts the audit accepts too.
"""
from __future__ import annotations

import base64
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

MAX_HEADER_BYTES = 256 * 1024
CHUNK = 1024 * 1024
VERSIONS = ["WARC/1.0", "WARC/1.1"]
REQUIRED = ("WARC-Type", "WARC-Record-ID", "WARC-Date", "Content-Length")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$")
MAX_RECORD_ID = 64               # the catalogue's column (CaptureRecord.record_id)


@dataclass
class FoundRecord:
    start: int                    # in the uncompressed bytes
    end: int                      # just after the blank lines that close the record
    headers: StatusAndHeaders

    def header(self, name: str) -> str | None:
        return self.headers.get_header(name)

    @property
    def rec_type(self) -> str:
        return (self.header("WARC-Type") or "").lower()


@dataclass
class Damage:
    start: int
    length: int
    what: str
    record_id: str | None = None
    details: dict = field(default_factory=dict)


def warc_date(value: str) -> datetime:
    """WARC-Date (W3C-DTF, UTC, optional fraction) as an aware datetime; ValueError if not one."""
    if not value or not _DATE.match(value):
        raise ValueError(f"WARC-Date {value!r} is not a UTC date like 2024-05-01T12:00:00Z")
    text = value[:-1]
    if len(text) == 16:
        text += ":00"
    if "." in text:
        head, fraction = text.split(".")
        text = f"{head}.{fraction[:6].ljust(6, '0')}"
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def _next_record_start(data, position: int) -> int:
    found = data.find(b"\nWARC/1.", position)
    return len(data) if found < 0 else found + 1


def split_records(data) -> Iterator[FoundRecord | Damage]:
    """Every record of `data` (bytes or mmap) in order, or the damage found instead."""
    size = len(data)
    position = 0
    while position < size:
        # some writers leave an extra CRLF between records, or after the last
        while position < size and data[position:position + 1] in (b"\r", b"\n"):
            position += 1
        if position >= size:
            return
        if data[position:position + 6] != b"WARC/1":
            resume = _next_record_start(data, position)
            yield Damage(position, resume - position, "bytes that are not a WARC record")
            position = resume
            continue
        found = _one_record(data, position)
        if isinstance(found, Damage):
            resume = _next_record_start(data, position + 1)
            found.length = resume - position
            yield found
            position = resume
            continue
        yield found
        position = found.end


def _one_record(data, start: int) -> FoundRecord | Damage:
    head_end = data.find(b"\r\n\r\n", start, start + MAX_HEADER_BYTES)
    if head_end < 0:
        return Damage(start, 0, "the WARC header block has no end (no blank line)")
    try:
        headers = StatusAndHeadersParser(VERSIONS).parse(io.BytesIO(bytes(data[start:head_end + 4])))
    except Exception as exc:  # noqa: BLE001 - any parse failure is this record's damage
        return Damage(start, 0, f"broken WARC header: {exc}")
    record_id = headers.get_header("WARC-Record-ID")
    missing = [name for name in REQUIRED if not headers.get_header(name)]
    if missing:
        return Damage(start, 0, "the WARC header lacks " + ", ".join(missing), record_id)
    if len(record_id) > MAX_RECORD_ID:
        return Damage(start, 0, f"WARC-Record-ID is longer than {MAX_RECORD_ID} characters", record_id)
    try:
        warc_date(headers.get_header("WARC-Date"))
    except ValueError as exc:
        return Damage(start, 0, str(exc), record_id)
    try:
        length = int(headers.get_header("Content-Length"))
        if length < 0:
            raise ValueError
    except ValueError:
        return Damage(start, 0, f"Content-Length {headers.get_header('Content-Length')!r} is not a "
                                "byte count", record_id)
    block_end = head_end + 4 + length
    if block_end > len(data):
        return Damage(start, 0, f"the record is cut short: its Content-Length is {length} but only "
                                f"{len(data) - head_end - 4} bytes follow", record_id)
    if data[block_end:block_end + 4] != b"\r\n\r\n":
        return Damage(start, 0, "the block is not followed by the two CRLF that end a record "
                                "(wrong Content-Length?)", record_id)
    return FoundRecord(start, block_end + 4, headers)


def digest_problem(data, record: FoundRecord) -> str | None:
    """Why the record's digests do not hold (None when every digest present matches).

    warcio checks them; an empty block it leaves unchecked is checked here, and a revisit's
    payload digest (that of the record it repeats) is not this record's to check."""
    raw = bytes(data[record.start:record.end])
    try:
        parsed = ArcWarcRecordLoader().parse_record_stream(io.BytesIO(raw), check_digests=True)
        while parsed.raw_stream.read(CHUNK):
            pass
    except Exception as exc:  # noqa: BLE001
        return f"the record cannot be read: {type(exc).__name__}: {exc}"
    checker = parsed.digest_checker
    if checker.problems:
        return "; ".join(checker.problems)
    block = record.header("WARC-Block-Digest")
    if block and checker.passed is not True:
        body_start = raw.find(b"\r\n\r\n") + 4
        matches = digest_matches(block, raw[body_start:len(raw) - 4])
        if matches is None:
            return f"its block digest {block} uses an algorithm that cannot be checked"
        if not matches:
            return f"its block digest {block} does not match its bytes"
    return None


def digest_matches(stated: str, data: bytes) -> bool | None:
    """Does `algorithm:value` (base32, hex or base64) match `data`? None for an unknown algorithm."""
    algorithm, _, value = stated.partition(":")
    try:
        digest = hashlib.new(algorithm.strip().lower().replace("-", ""), data).digest()
    except ValueError:
        return None
    value = value.strip()
    candidates = {base64.b32encode(digest).decode("ascii"), digest.hex(),
                  base64.b64encode(digest).decode("ascii")}
    return value in candidates or value.upper() in candidates or value.lower() in candidates


def with_block_digest(data, record: FoundRecord) -> tuple[bytes, str]:
    """The record's bytes with a sha256 WARC-Block-Digest added to its header (it had none:
    the fixity audit requires one), and that digest. The block itself is unchanged."""
    raw = bytes(data[record.start:record.end])
    head_end = raw.find(b"\r\n\r\n")
    block = raw[head_end + 4:len(raw) - 4]
    digest = "sha256:" + base64.b32encode(hashlib.sha256(block).digest()).decode("ascii")
    return raw[:head_end + 2] + f"WARC-Block-Digest: {digest}\r\n".encode("ascii") + raw[head_end + 2:], digest

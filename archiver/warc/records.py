"""Building the WARC records of one capture, and writing a record as its own gzip member.

The HTTP request and response blocks are written byte for byte as they crossed the wire:
warcio's writer would re-serialise parsed HTTP headers (joining folded lines, re-encoding
non-ASCII, normalising line ends), so for `request` and `response` records we compute the
digests ourselves and hand warcio the exact bytes with no parsed headers. The HTTP
headers end where warcio's own header parser, the one its readers use, stops reading them
(`http_header_end` finds that line without parsing the headers), so the payload digest we
write is the one `ArchiveIterator(check_digests=True)` recomputes.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable

from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archiver.fetch.types import Exchange, FetchResult
from archiver.warc.base32 import b32encode

WARC_VERSION = "WARC/1.1"
DIGEST_ALGORITHM = "sha256"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
CHUNK = 1024 * 1024
IN_MEMORY_BYTES = 1024 * 1024  # responses read at once up to this: the fetcher spools as much in memory
COMPRESS_PIECE = 1024 * 1024   # a record goes to the gzip engine whole, or in pieces of about this
MAX_HEAD_BYTES = 64 * 1024     # of HTTP headers kept beside a record's location

# WARC-Target-URI of our metadata records: a URN, so replay tools that index metadata
# records (cdxj-indexer does, for any Content-Type but application/warc-fields) never
# mistake the provenance JSON for a capture of the page itself.
PROVENANCE_URN = "urn:archiver:provenance:"
TEXT_METADATA_URN = "urn:archiver:text-metadata:"
# WARC/1.1 section 6.7.2: the payload is the same as the one of the record referred to.
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"


@dataclass(frozen=True)
class Revisit:
    """The earlier response record whose payload the final response repeats (archiver.dedup)."""
    record_id: str          # its WARC-Record-ID: WARC-Refers-To
    target_uri: str         # its WARC-Target-URI: WARC-Refers-To-Target-URI
    date: str               # its WARC-Date, as written: WARC-Refers-To-Date
    payload_digest: str     # its WARC-Payload-Digest; the final response must have the same


@dataclass
class CaptureRecords:
    """What the capture pipeline hands the writer for one capture."""
    capture_id: int | str
    fetch: FetchResult
    provenance: dict                       # JSON-able; becomes the metadata record
    text: str | None = None                # title line, blank line, body; the conversion record
    text_metadata: dict | None = None      # JSON-able; a metadata record about the text
    # When set, the final response is written as a `revisit` record (HTTP headers only)
    # pointing at this earlier record, and no conversion or text metadata is written.
    revisit: Revisit | None = None
    # The page's requisites (archiver.requisites), written after the page's own hops.
    requisites: list[FetchResult] = field(default_factory=list)
    # Documents made while capturing (a browser capture's screenshot and rendered DOM),
    # written last as `resource` records.
    resources: list["Resource"] = field(default_factory=list)


@dataclass(frozen=True)
class Resource:
    """A document the capture made itself, e.g. a screenshot: one `resource` record."""
    target_uri: str             # a URN naming what it is of, e.g. urn:screenshot:<page URL>
    content_type: str
    data: bytes
    made_at: datetime


@dataclass(frozen=True)
class RecordLocation:
    """Where one written record is: its gzip member is bytes [offset, offset+length) of the file."""
    record_type: str
    target_uri: str | None
    record_id: str
    offset: int
    length: int
    block_digest: str | None
    payload_digest: str | None
    refers_to: str | None       # the record this one points at (Concurrent-To or Refers-To)
    requisite: bool = False     # a record of one of the page's requisites
    # The record's first bytes, uncompressed: its WARC headers, then the HTTP status line
    # and headers that open its block (request, response, revisit). All an indexer reads
    # of a record that states its payload digest, so the replay index need not read it
    # back (archiver/replay/index.py). None when not kept (headers over MAX_HEAD_BYTES).
    head: bytes | None = field(default=None, repr=False, compare=False)


def warc_date(moment: datetime) -> str:
    """WARC/1.1 date: UTC, microseconds when there are any."""
    if moment.tzinfo is None:
        raise ValueError(f"WARC dates need an aware datetime, got naive {moment!r}")
    moment = moment.astimezone(timezone.utc)
    if moment.year < 1000:      # as strftime wrote them before: the year unpadded
        return _strftime_warc_date(moment)
    # isoformat, in C, leaves out zero microseconds too; "+00:00" becomes "Z"
    return moment.isoformat()[:-6] + "Z"


def _strftime_warc_date(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def warc_digest(hasher) -> str:
    return f"{DIGEST_ALGORITHM}:{b32encode(hasher.digest()).decode('ascii')}"


class Sha256WARCWriter(WARCWriter):
    """warcio's writer with sha256 digests (warcio 1.8.1 picks sha1 in `_create_digester`).

    Compression is ours (`GzipMember`), so it is created with gzip=False and pointed at a
    fresh gzip member for every record.
    """

    def __init__(self):
        super().__init__(None, gzip=False, warc_version=WARC_VERSION)

    @staticmethod
    def _create_digester():
        return Digester(DIGEST_ALGORITHM)


class GzipMember:
    """A file-like sink that writes one complete gzip member to `out` when flushed.

    warcio writes a record in pieces (its headers, 16 KiB reads of the block, the closing
    CRLFs); they are compressed together, up to COMPRESS_PIECE bytes at a time, as the
    engines compress a record handed over at once with fewer instructions (ISA-L: about
    15% fewer on the benchmark's pages). The gzip member holds the same bytes either way.
    """

    def __init__(self, out: BinaryIO, level: int, compressobj=zlib.compressobj):
        # compressobj: zlib's, or another engine's with its signature (archiver/warc/compression.py)
        self._out = out
        self._zip = compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._done = False
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.first_write: bytes | None = None     # warcio's writer writes the WARC headers first

    def write(self, data: bytes) -> int:
        if self._done:
            raise ValueError("this gzip member is already finished")
        if self.first_write is None:
            self.first_write = data
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= COMPRESS_PIECE:
            self._compress_pending()
        return len(data)

    def flush(self) -> None:
        if not self._done:
            self._done = True
            self._compress_pending()
            self._out.write(self._zip.flush(zlib.Z_FINISH))

    def _compress_pending(self) -> None:
        packed = self._zip.compress(b"".join(self._pending))
        self._pending, self._pending_bytes = [], 0
        if packed:
            self._out.write(packed)


# Bytes of a line warcio's header parser may take as blank: it decodes each line (utf-8,
# else latin-1) and takes it as blank when str.rstrip() leaves nothing. So ASCII
# whitespace (but the newline ending it) and any non-ASCII byte: `_blank_to_warcio` decides.
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace() and c != ord("\n"))
_MAYBE_BLANK = b"([" + re.escape(_ASCII_SPACE) + rb"\x80-\xff]*)(?=\n|\Z)"   # up to its newline
_FIRST_MAYBE_BLANK = re.compile(_MAYBE_BLANK)
# a later line, after the newline ending the one before: the literal "\n" lets the regex
# engine go from newline to newline instead of trying every position
_NEXT_MAYBE_BLANK = re.compile(b"\n" + _MAYBE_BLANK)
HEAD_PROBE = 16 * 1024      # bytes read to find where the HTTP headers end; longer ones are parsed


def _blank_to_warcio(line: bytes) -> bool:
    return line == b"\r\n" or not StatusAndHeadersParser.decode_header(line).rstrip()


def http_header_end(data: bytes, complete: bool) -> int | None:
    """How many of `data`'s first bytes are the HTTP status line and headers: up to the
    end of the first line (the status line too) that warcio's StatusAndHeadersParser
    takes as blank, or all of them. That parser reads lines up to there and no further,
    whatever the lines hold, so its header end is found without parsing the headers.
    With `complete` false, `data` is only the start of the block: None when the headers
    may go on past it."""
    line = _FIRST_MAYBE_BLANK.match(data) or _NEXT_MAYBE_BLANK.search(data)
    while line is not None:
        end = line.end()                        # at the line's newline, or the end of data
        if end == len(data):                    # data's last line, not ended
            break
        if _blank_to_warcio(data[line.start(1):end + 1]):
            return end + 1
        line = _NEXT_MAYBE_BLANK.search(data, end)
    return len(data) if complete else None


class _LineCounter:
    """Counts the bytes a header parser consumes through readline()."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.consumed = 0

    def readline(self, size: int | None = None) -> bytes:
        line = self._stream.readline(size)
        self.consumed += len(line)
        return line


def parsed_header_length(stream: BinaryIO, length: int) -> int:
    """`http_header_length` by running warcio's StatusAndHeadersParser (verify off, as its
    ArchiveIterator uses it) over the stream. The stream is left at its start."""
    stream.seek(0)
    counter = _LineCounter(LimitReader(stream, length))
    try:
        StatusAndHeadersParser([], verify=False).parse(counter)
    except EOFError:
        pass
    stream.seek(0)
    return counter.consumed


def http_header_length(stream: BinaryIO, length: int) -> int:
    """How many of the first `length` bytes are the HTTP status line and headers: where
    warcio's header parser stops reading (`http_header_end` of their first HEAD_PROBE
    bytes, or the parser itself when they do not tell). The stream is left at its start."""
    wanted = min(length, HEAD_PROBE)
    stream.seek(0)
    probe = stream.read(wanted)
    stream.seek(0)
    end = http_header_end(probe, complete=wanted == length or len(probe) < wanted)
    return end if end is not None else parsed_header_length(stream, length)


def kept_http_head(stream: BinaryIO, header_length: int) -> bytes | None:
    """The block's first `header_length` bytes (its HTTP headers, `http_header_length`), to
    keep beside the record's location; None when over MAX_HEAD_BYTES (a response that never
    ends its headers: all of it). The stream is left at its start."""
    if header_length > MAX_HEAD_BYTES:
        return None
    stream.seek(0)
    head = stream.read(header_length)
    stream.seek(0)
    return head


def kept_head_of(block: bytes, header_length: int) -> bytes | None:
    """`kept_http_head` of a block held in memory."""
    return block[:header_length] if header_length <= MAX_HEAD_BYTES else None


def read_block(stream: BinaryIO, length: int) -> bytes:
    """The stream's first `length` bytes, all at once. The stream is left at its start."""
    stream.seek(0)
    block = stream.read(length)
    stream.seek(0)
    if len(block) != length:
        raise ValueError(f"stream ended after {len(block)} of {length} bytes")
    return block


def http_block_digests(stream: BinaryIO, length: int, header_length: int | None = None,
                       payload_digest: str | None = None) -> tuple[str, str]:
    """Block digest over all `length` bytes; payload digest over what follows the HTTP
    headers (`header_length` bytes, found by `http_header_length` when not given).

    A `payload_digest` already known (`fetched_payload_digest`) is returned as it is, and
    only the block is hashed. The stream is left at its start.
    """
    if header_length is None:
        header_length = http_header_length(stream, length)
    block = hashlib.sha256()
    payload = hashlib.sha256() if payload_digest is None else None
    for position, chunk in _chunks(stream, 0, length):
        block.update(chunk)
        start = max(header_length - position, 0)
        if payload is not None and start < len(chunk):
            payload.update(chunk[start:] if start else chunk)
    return warc_digest(block), payload_digest or warc_digest(payload)


def http_payload_digest(stream: BinaryIO, length: int, header_length: int) -> str:
    """The payload digest alone: over the `length` bytes' part after their first
    `header_length` bytes (the HTTP headers). The stream is left at its start."""
    payload = hashlib.sha256()
    for _, chunk in _chunks(stream, min(header_length, length), length):
        payload.update(chunk)
    return warc_digest(payload)


def _chunks(stream: BinaryIO, start: int, end: int):
    """(position, bytes) of the stream from `start` to `end`, read a CHUNK at a time; the
    stream is left at its start."""
    stream.seek(start)
    position = start
    while position < end:
        chunk = stream.read(min(CHUNK, end - position))
        if not chunk:
            raise ValueError(f"stream ended after {position} of {end} bytes")
        yield position, chunk
        position += len(chunk)
    stream.seek(0)


def fetched_payload_digest(exchange: Exchange, length: int, header_length: int) -> str | None:
    """The payload digest of a response record of the exchange's first `length` bytes,
    opening with `header_length` bytes of HTTP headers, from the sha256 the fetcher took
    of the entity body, when that body is exactly the record's payload: copied from where
    the headers end up to the end (no chunked framing taken out, nothing cut off).
    None when it is not, and the payload must be hashed."""
    if (exchange.payload_sha256 is None or exchange.payload_offset != header_length
            or exchange.payload_length != length - header_length):
        return None
    digest = bytes.fromhex(exchange.payload_sha256)
    return f"{DIGEST_ALGORITHM}:{b32encode(digest).decode('ascii')}"


def response_payload_digest(exchange: Exchange) -> str | None:
    """The payload digest the exchange's response record gets; None without a response."""
    stream = exchange.response_file
    length = stream_length(stream) if stream is not None else 0
    if not length:
        return None
    header_length = http_header_length(stream, length)
    return (fetched_payload_digest(exchange, length, header_length)
            or http_payload_digest(stream, length, header_length))


def stream_length(stream: BinaryIO) -> int:
    stream.seek(0, io.SEEK_END)
    length = stream.tell()
    stream.seek(0)
    return length


def warc_headers(fields: list[tuple[str, str | None]]) -> StatusAndHeaders:
    kept = [(k, str(v)) for k, v in fields if v is not None]
    for name, value in kept:
        if "\r" in value or "\n" in value:
            raise ValueError(f"WARC header {name} would contain a line break: {value!r}")
    headers = StatusAndHeaders("", [], protocol=WARC_VERSION)
    headers.headers = kept      # (str, str) pairs already: what its constructor converts to
    return headers


def verbatim_http_record(record_type: str, fields: list[tuple[str, str | None]],
                         stream: BinaryIO, length: int, header_length: int,
                         payload_digest: str | None = None) -> ArcWarcRecord:
    """A request/response record whose block is exactly `length` bytes of `stream`, which
    open with `header_length` bytes of HTTP headers (`http_header_length`); its payload
    digest is hashed unless given."""
    block_digest, payload_digest = http_block_digests(stream, length, header_length, payload_digest)
    return _http_record(record_type, fields, LimitReader(stream, length), length, block_digest,
                        payload_digest)


def block_http_record(record_type: str, fields: list[tuple[str, str | None]], block: bytes,
                      header_length: int, payload_digest: str | None = None) -> ArcWarcRecord:
    """`verbatim_http_record` of a block held in memory: hashed as it is, no stream read."""
    if payload_digest is None:
        payload_digest = warc_digest(hashlib.sha256(memoryview(block)[header_length:]))
    return _http_record(record_type, fields, io.BytesIO(block), len(block),
                        warc_digest(hashlib.sha256(block)), payload_digest)


def _http_record(record_type: str, fields: list[tuple[str, str | None]], raw_stream: BinaryIO,
                 length: int, block_digest: str, payload_digest: str) -> ArcWarcRecord:
    headers = warc_headers(fields + [("WARC-Block-Digest", block_digest),
                                     ("WARC-Payload-Digest", payload_digest)])
    content_type = f"application/http; msgtype={record_type}"
    record = ArcWarcRecord("warc", record_type, headers, raw_stream, None, content_type, length)
    record.payload_length = length
    return record


def revisit_record(fields: list[tuple[str, str | None]], stream: BinaryIO, length: int,
                   revisit: Revisit, head: bytes,
                   payload_digest: str | None = None) -> ArcWarcRecord:
    """A `revisit` record for a response of `length` bytes, opening with the HTTP headers
    `head` (`http_header_length` bytes), whose payload repeats `revisit`'s.

    Its block is the response's status line and headers only; its payload digest is the
    one of the whole response's payload (hashed unless given), which must equal the
    earlier record's.
    """
    if payload_digest is None:
        payload_digest = http_payload_digest(stream, length, len(head))
    if payload_digest != revisit.payload_digest:
        raise ValueError(f"a revisit must repeat the payload of {revisit.record_id}, but its digest "
                         f"{payload_digest} differs from {revisit.payload_digest}")
    headers = warc_headers(fields + [
        ("WARC-Refers-To", revisit.record_id),
        ("WARC-Refers-To-Target-URI", revisit.target_uri),
        ("WARC-Refers-To-Date", revisit.date),
        ("WARC-Profile", REVISIT_PROFILE),
        ("WARC-Block-Digest", warc_digest(hashlib.sha256(head))),
        ("WARC-Payload-Digest", payload_digest),
    ])
    record = ArcWarcRecord("warc", "revisit", headers, io.BytesIO(b""), _VerbatimHead(head),
                           "application/http; msgtype=response", len(head))
    record.payload_length = 0
    return record


class _VerbatimHead:
    """HTTP headers as received, for warcio's writer, which writes only the headers of a
    revisit (`headers_buff`) and would otherwise rebuild them from parsed fields."""

    def __init__(self, head: bytes):
        self.headers_buff = head

    def compute_headers_buffer(self, header_filter=None) -> None:
        pass


def plain_record(builder: Sha256WARCWriter, record_type: str, fields: list[tuple[str, str | None]],
                 data: bytes, content_type: str) -> ArcWarcRecord:
    """A record with a non-HTTP block, written by warcio.

    Its block is its payload, so one sha256 gives both digests; warcio would hash the
    data once for each. They are added as warcio adds them (payload digest first, none
    for the types it gives none, `NO_PAYLOAD_DIGEST_TYPES`), so the record is the same.
    """
    digest = warc_digest(hashlib.sha256(data))
    payload_digest = None if record_type in builder.NO_PAYLOAD_DIGEST_TYPES else digest
    headers = warc_headers(fields + [("WARC-Payload-Digest", payload_digest),
                                     ("WARC-Block-Digest", digest)])
    # the record builder.create_warc_record makes of these: no HTTP headers (no URI, no
    # HTTP record type), the content type it would pick, and no digest left to take
    content_type = (content_type or headers.get_header("Content-Type")
                    or builder.WARC_RECORDS.get(record_type, "application/warc-record"))
    record = ArcWarcRecord("warc", record_type, headers, io.BytesIO(data), None, content_type,
                           len(data))
    record.payload_length = len(data)
    return record


def json_bytes(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


@dataclass
class PlannedRecord:
    record: ArcWarcRecord
    record_type: str
    target_uri: str | None
    record_id: str
    refers_to: str | None
    requisite: bool = False
    # The HTTP headers opening the block (`kept_http_head`): b"" when it has none, None
    # when they are not kept.
    http_head: bytes | None = b""


def _exchange_fields(record_type: str, record_id: str, date: str, exchange: Exchange) -> list:
    return [("WARC-Type", record_type), ("WARC-Record-ID", record_id), ("WARC-Date", date),
            ("WARC-Target-URI", exchange.url), ("WARC-IP-Address", exchange.ip or None)]


def _request_record(exchange: Exchange, date: str, request_id: str, response_id: str | None,
                    requisite: bool = False) -> PlannedRecord:
    """The request exactly as sent, concurrent to its response (when one came)."""
    block = exchange.request_bytes
    header_length = http_header_end(block, complete=True)
    record = block_http_record(
        "request", _exchange_fields("request", request_id, date, exchange)
        + [("WARC-Concurrent-To", response_id)], block, header_length)
    return PlannedRecord(record, "request", exchange.url, request_id, response_id, requisite,
                         kept_head_of(block, header_length))


def _response_record(exchange: Exchange, date: str, response_id: str, length: int,
                     requisite: bool = False) -> PlannedRecord:
    """The response exactly as received (its first `length` bytes); read into memory once
    when up to IN_MEMORY_BYTES, as the fetcher holds it then anyway."""
    stream = exchange.response_file
    fields = (_exchange_fields("response", response_id, date, exchange)
              + [("WARC-Truncated", exchange.truncated or None)])
    if length <= IN_MEMORY_BYTES:
        block = read_block(stream, length)
        header_length = http_header_end(block, complete=True)
        record = block_http_record("response", fields, block, header_length,
                                   fetched_payload_digest(exchange, length, header_length))
        head = kept_head_of(block, header_length)
    else:
        header_length = http_header_length(stream, length)
        record = verbatim_http_record("response", fields, stream, length, header_length,
                                      fetched_payload_digest(exchange, length, header_length))
        head = kept_http_head(stream, header_length)
    return PlannedRecord(record, "response", exchange.url, response_id, None, requisite, head)


def _revisit_of(exchange: Exchange, date: str, response_id: str, length: int,
                revisit: Revisit) -> PlannedRecord:
    """The response (its first `length` bytes) as a revisit of `revisit`: its HTTP headers."""
    stream = exchange.response_file
    head = stream.read(http_header_length(stream, length))
    stream.seek(0)
    record = revisit_record(_exchange_fields("revisit", response_id, date, exchange), stream,
                            length, revisit, head,
                            fetched_payload_digest(exchange, length, len(head)))
    return PlannedRecord(record, "revisit", exchange.url, response_id, revisit.record_id,
                         http_head=head if len(head) <= MAX_HEAD_BYTES else None)


def requisite_records(results: list[FetchResult], new_id: Callable[[], str]) -> list[PlannedRecord]:
    """`response` then `request` for every answered hop of every requisite, in order.

    Hops that got no response are left out: unlike the page's, they are no evidence of
    what the page looked like (the provenance lists the requisites that failed).
    """
    planned: list[PlannedRecord] = []
    for result in results:
        for exchange in result.exchanges:
            length = stream_length(exchange.response_file) if exchange.response_file is not None else 0
            if not length or not exchange.request_bytes:
                continue
            date = warc_date(exchange.started_at)
            response_id, request_id = new_id(), new_id()
            planned.append(_response_record(exchange, date, response_id, length, requisite=True))
            planned.append(_request_record(exchange, date, request_id, response_id, requisite=True))
    return planned


def plan_capture(capture: CaptureRecords, builder: Sha256WARCWriter, new_id: Callable[[], str],
                 now: datetime) -> list[PlannedRecord]:
    """Every record of one capture, digests computed, nothing written yet.

    Per hop: `response` (if a response came) then `request`; then the same for the
    requisites (`requisite_records`). Then one `metadata` record (the provenance JSON),
    then, when text is given, a `conversion` record and, when text metadata is given too,
    a second `metadata` record about the text. Last, one `resource` record per
    `capture.resources` (a browser capture's screenshot and rendered DOM).

    With `capture.revisit`, the last response is a `revisit` record instead (its HTTP
    headers, pointing at the earlier record with the same payload) and the text records
    are left out: the earlier capture holds them.
    """
    planned: list[PlannedRecord] = []
    final_response: tuple[str, Exchange] | None = None
    last_answered = max((n for n, ex in enumerate(capture.fetch.exchanges)
                         if ex.response_file is not None and stream_length(ex.response_file)),
                        default=None)
    for number, exchange in enumerate(capture.fetch.exchanges):
        response_id = None
        date = warc_date(exchange.started_at)
        length = stream_length(exchange.response_file) if exchange.response_file is not None else 0
        if length:
            response_id = new_id()
            if capture.revisit is not None and number == last_answered:
                planned.append(_revisit_of(exchange, date, response_id, length, capture.revisit))
            else:
                planned.append(_response_record(exchange, date, response_id, length))
            final_response = (response_id, exchange)
        if exchange.request_bytes:
            planned.append(_request_record(exchange, date, new_id(), response_id))
    planned.extend(requisite_records(capture.requisites, new_id))

    final_id = final_response[0] if final_response else None
    final_url = (final_response[1].url if final_response
                 else capture.fetch.final_url or capture.fetch.requested_url)
    stamp = warc_date(now)

    metadata_id, metadata_uri = new_id(), PROVENANCE_URN + final_url
    record = plain_record(builder, "metadata", [
        ("WARC-Type", "metadata"),
        ("WARC-Record-ID", metadata_id),
        ("WARC-Date", stamp),
        ("WARC-Target-URI", metadata_uri),
        ("WARC-Concurrent-To", final_id),
    ], json_bytes(capture.provenance), "application/json")
    planned.append(PlannedRecord(record, "metadata", metadata_uri, metadata_id, final_id))

    if capture.text is not None and final_id is not None and capture.revisit is None:
        conversion_id = new_id()
        record = plain_record(builder, "conversion", [
            ("WARC-Type", "conversion"),
            ("WARC-Record-ID", conversion_id),
            ("WARC-Date", stamp),
            ("WARC-Target-URI", final_url),
            ("WARC-Refers-To", final_id),
        ], capture.text.encode("utf-8"), "text/plain; charset=utf-8")
        planned.append(PlannedRecord(record, "conversion", final_url, conversion_id, final_id))
        if capture.text_metadata is not None:
            text_meta_id, text_meta_uri = new_id(), TEXT_METADATA_URN + final_url
            record = plain_record(builder, "metadata", [
                ("WARC-Type", "metadata"),
                ("WARC-Record-ID", text_meta_id),
                ("WARC-Date", stamp),
                ("WARC-Target-URI", text_meta_uri),
                ("WARC-Refers-To", conversion_id),
            ], json_bytes(capture.text_metadata), "application/json")
            planned.append(PlannedRecord(record, "metadata", text_meta_uri, text_meta_id,
                                         conversion_id))
    for resource in capture.resources:
        resource_id = new_id()
        record = plain_record(builder, "resource", [
            ("WARC-Type", "resource"),
            ("WARC-Record-ID", resource_id),
            ("WARC-Date", warc_date(resource.made_at)),
            ("WARC-Target-URI", resource.target_uri),
            ("WARC-Concurrent-To", final_id),
        ], resource.data, resource.content_type)
        planned.append(PlannedRecord(record, "resource", resource.target_uri, resource_id, final_id))
    return planned


def warcinfo_record(builder: Sha256WARCWriter, record_id: str, now: datetime, filename: str,
                    fields: dict[str, str]) -> ArcWarcRecord:
    body = "".join(f"{name}: {value}\r\n" for name, value in fields.items() if value).encode("utf-8")
    return plain_record(builder, "warcinfo", [
        ("WARC-Type", "warcinfo"),
        ("WARC-Record-ID", record_id),
        ("WARC-Date", warc_date(now)),
        ("WARC-Filename", filename),
    ], body, "application/warc-fields")

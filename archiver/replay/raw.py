"""Raw mementos straight from the catalogue: the record of a URL closest to a moment, read
by byte range and answered as archived, with no CDXJ index and no pywb (docs/replay.md,
"Raw replay from the catalogue").

    memento = find_raw(settings, storage, session, url, "20261201120000", viewer)
    # None: nothing the viewer may see; memento.redirect_to: not that exact second
    status, headers, body = memento.status, memento.headers, memento.body

It answers pywb's `id_` question ("/web/<timestamp>id_/<url>") the same way: the capture
closest in time, the archived status line, headers and payload (chunked framing removed,
content encoding kept when the client accepts it), `Memento-Datetime` and the same Link
header as `archiver replay` sends (original, timegate, timemap, first/last/prev/next, the
record's provenance). What it sends differently, and why: PASS_ON and RAW_POLICY below.
"""
from __future__ import annotations

import calendar
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import BinaryIO
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session
from warcio.bufferedreaders import ChunkedDataReader, DecompressingBufferedReader
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

from archiver.accounts.roles import Viewer
from archiver.accounts.visibility import hidden_ids
from archiver.config import Settings
from archiver.models import STORED, Capture, CaptureRecord, WarcFile
from archiver.replay.memento import _with_navigation, format_links, http_date, navigation
from archiver.replay.paths import COLLECTION
from archiver.replay.urls import replay_origin
from archiver.warc.names import OPEN_SUFFIX
from archiver.warc.reader import HEADER_PREFIX, local_member, parse_record
from storage import Storage, StorageKeyNotFound

SERVED_TYPES = ("response", "revisit")     # what pywb's index holds for a URL (never `request`)
HEADER_PREFIX_ORIG = "X-Archive-Orig-"      # pywb's prefix for archived headers it does not pass on
STREAM_CHUNK = 256 * 1024

# The archived headers passed on as they are: the ones that describe the bytes sent. Every
# other archived header is renamed X-Archive-Orig-<name>, as pywb does with Date, Server,
# Cache-Control, ... pywb also passes Set-Cookie, Link, WWW-Authenticate and any header it
# does not know (Clear-Site-Data, Refresh, NEL, ...) in raw mode, and memento.py answers
# with its own Access-Control-Allow-Origin; served from the app's origin, those would act
# on the app (set or clear its cookies, open it to other origins, report on its visitors),
# so here they are renamed too, and no CORS header is added.
PASS_ON = frozenset({"content-type", "content-length", "content-encoding", "content-language",
                     "content-disposition", "content-range", "content-location", "accept-ranges",
                     "accept-patch", "allow", "location"})

# Archived bytes served from the app's origin never run: `sandbox` without allow-scripts
# gives the document an opaque origin with scripts, forms, popups and plugins off, and
# `default-src 'none'` lets it load nothing (docs/security.md, "Raw mementos").
RAW_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
              "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = (("Content-Security-Policy", RAW_POLICY),
                    ("Cross-Origin-Resource-Policy", "same-origin"),
                    ("X-Content-Type-Options", "nosniff"),
                    # a takedown or a private capture must not live on in a shared cache
                    ("Cache-Control", "no-store"))


class RawReplayError(RuntimeError):
    """The catalogue points at bytes that are not what it says (a revisit whose original is
    gone or differs): the archive needs repair, the request is not at fault."""


@dataclass(frozen=True)
class Candidate:
    """One response or revisit record of the URL, as the catalogue has it."""
    record_pk: int
    capture_id: int
    record_type: str
    offset: int
    length: int
    refers_to: str | None
    filename: str
    file_state: str
    storage_key: str | None
    timestamp: str              # 14 digits, the record's WARC-Date


@dataclass
class RawMemento:
    timestamp: str                             # the one served (or redirected to)
    redirect_to: str | None = None             # the closest capture's timestamp, when not exact
    url: str = ""                              # with redirect_to: the URL as it was captured
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: "bytes | StreamedBody" = b""     # bytes, or chunks when the record is large


# --- the timestamp asked for -------------------------------------------------------------

def parse_timestamp(text: str) -> str | None:
    """4 to 14 digits (`2026`, `202612011200`, ...) -> 14 digits, the earliest moment they
    name, as pywb reads a partial timestamp; None when it is not a date."""
    if not (4 <= len(text) <= 14 and text.isdigit()):
        return None
    full = text + "00000101000000"[len(text):]
    try:
        datetime.strptime(full, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return full


def url_variants(url: str) -> list[str]:
    """Other spellings of `url` that pywb's index key (SURT) takes for the same address:
    scheme and host in lower case, no default port, `/` for an empty path; and the same
    under the other of http and https. Tried, in that order, only when `url` has no capture."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    same = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    other = urlunsplit(({"http": "https", "https": "http"}.get(scheme, scheme), netloc,
                        parts.path or "/", parts.query, ""))
    return [v for v in dict.fromkeys((same, other)) if v != url]


def _seconds(stamp: str) -> int:
    return calendar.timegm((int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10]),
                            int(stamp[10:12]), int(stamp[12:14]), 0, 0, 0))


def stamp_of_iso(value: str) -> str:
    """`2026-12-01T21:59:30.006095+00:00` (a catalogue time, a WARC-Date) -> `20261201215930`."""
    if not value.endswith(("Z", "+00:00")):           # another zone: convert (slicing is for UTC)
        return datetime.fromisoformat(value).astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")
    return value[0:4] + value[5:7] + value[8:10] + value[11:13] + value[14:16] + value[17:19]


# --- which record ------------------------------------------------------------------------

@lru_cache(maxsize=512)
def _queries(is_admin: bool, email: str | None):
    """The two statements a lookup runs, built once per kind of viewer: building and keying
    a SQLAlchemy statement cost more than running it (profiled: bench/replay.py)."""
    hidden = hidden_ids(Viewer.of("admin") if is_admin else Viewer.of("none", email=email))
    served = (select(CaptureRecord.id, CaptureRecord.capture_id, CaptureRecord.record_type,
                     CaptureRecord.offset, CaptureRecord.length, CaptureRecord.refers_to,
                     CaptureRecord.requisite, WarcFile.filename, WarcFile.state, WarcFile.storage_key,
                     Capture.redirect_chain)
              .join(Capture, Capture.id == CaptureRecord.capture_id)
              .join(WarcFile, WarcFile.id == CaptureRecord.warc_file_id)
              .where(CaptureRecord.target_uri == bindparam("url"), Capture.state == STORED,
                     # two equalities, not IN: an IN list is expanded at every execution
                     or_(*(CaptureRecord.record_type == kind for kind in SERVED_TYPES)))
              .order_by(CaptureRecord.capture_id, CaptureRecord.offset))
    original = (select(CaptureRecord.id, CaptureRecord.capture_id, CaptureRecord.record_type,
                       CaptureRecord.offset, CaptureRecord.length, CaptureRecord.refers_to,
                       WarcFile.filename, WarcFile.state, WarcFile.storage_key)
                .join(Capture, Capture.id == CaptureRecord.capture_id)
                .join(WarcFile, WarcFile.id == CaptureRecord.warc_file_id)
                .where(CaptureRecord.record_id == bindparam("record_id"), Capture.state == STORED))
    if hidden is not None:
        served = served.where(Capture.id.not_in(hidden))
        original = original.where(Capture.id.not_in(hidden))
    return served, original


def queries_for(viewer: Viewer):
    return _queries(viewer.is_admin, viewer.email)


def candidates(settings: Settings, storage: Storage, session: Session, url: str, viewer: Viewer) -> list[Candidate]:
    """Every response and revisit record of `url` in a stored capture `viewer` may see."""
    rows = session.execute(queries_for(viewer)[0], {"url": url}).all()
    stamps = _record_stamps(session, url, rows)
    found = []
    for row in rows:
        stamp = stamps.get(row.id) or _stamp_from_warc(settings, storage, row)
        found.append(Candidate(row.id, row.capture_id, row.record_type, row.offset, row.length,
                               row.refers_to, row.filename, row.state, row.storage_key, stamp))
    return found


def _record_stamps(session: Session, url: str, rows) -> dict[int, str]:
    """Each record's 14-digit WARC-Date, from what the catalogue kept of the fetch: a hop of
    the redirect chain for the page's records, the requisite's entry for a requisite's.
    A record it cannot pair for certain is left out (read from its WARC headers instead)."""
    stamps: dict[int, str] = {}
    page: dict[int, list] = {}
    requisite: dict[int, list] = {}
    chains = {}
    for row in rows:
        (requisite if row.requisite else page).setdefault(row.capture_id, []).append(row)
        chains[row.capture_id] = row.redirect_chain
    for capture_id, records in page.items():
        hops = [h for h in chains[capture_id] or [] if h.get("url") == url
                and h.get("status") is not None and h.get("started_at")]
        if len(hops) == len(records):                  # one answered hop per record, in order
            for record, hop in zip(records, hops):
                stamps[record.id] = stamp_of_iso(hop["started_at"])
    if requisite:
        lists = dict(session.execute(select(Capture.id, Capture.requisites)
                                     .where(Capture.id.in_(list(requisite)))).all())
        for capture_id, records in requisite.items():
            entries = [e for e in (lists.get(capture_id) or {}).get("fetched", [])
                       if e.get("final_url", e.get("url")) == url and e.get("started_at")]
            if len(records) == 1 and len(entries) == 1:
                stamps[records[0].id] = stamp_of_iso(entries[0]["started_at"])
    return stamps


def _stamp_from_warc(settings: Settings, storage: Storage, row) -> str:
    data = member_bytes(settings, storage, row.filename, row.state, row.storage_key,
                        row.offset, min(row.length, HEADER_PREFIX))
    head = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(data, HEADER_PREFIX)
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"warc-date":
            return stamp_of_iso(value.strip().decode("ascii"))
    raise RawReplayError(f"{row.filename}: the record at offset {row.offset} has no WARC-Date")


def closest(found: list[Candidate], stamp: str) -> Candidate:
    """The record nearest in time to `stamp`; on a tie the earlier one, as pywb sorts."""
    target = _seconds(stamp)
    return min(found, key=lambda c: (abs(_seconds(c.timestamp) - target), c.timestamp,
                                     c.capture_id, c.offset))


# --- reading it --------------------------------------------------------------------------

def member_bytes(settings: Settings, storage: Storage, filename: str, state: str,
                 storage_key: str | None, offset: int, length: int) -> bytes:
    """The gzip member at (offset, length): from storage once the catalogue says the file is
    sealed, else from the worker's local file (`.open`, or renamed while being sealed),
    else from storage (sealed while we looked)."""
    key = storage_key or filename
    if state == "sealed":
        try:
            return storage.read_range(key, offset, length)
        except StorageKeyNotFound:
            pass
    local = local_member(settings, filename, offset, length)
    return local if local is not None else storage.read_range(key, offset, length)


def member_file(settings: Settings, storage: Storage, c: Candidate) -> BinaryIO:
    """The WARC file opened at the record's gzip member, from where member_bytes reads."""
    key = c.storage_key or c.filename
    handle = None
    if c.file_state == "sealed":
        try:
            handle = storage.open(key)
        except StorageKeyNotFound:
            pass
    for path in () if handle else (settings.open_warc_dir / f"{c.filename}{OPEN_SUFFIX}",
                                   settings.open_warc_dir / c.filename):
        try:
            handle = open(path, "rb")
            break
        except FileNotFoundError:
            continue
    handle = handle or storage.open(key)
    handle.seek(c.offset)
    return handle


@dataclass
class Loaded:
    """A parsed record; `handle` is the open file of a streamed one (see `_read`)."""
    record: ArcWarcRecord
    handle: BinaryIO | None = None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _read(settings: Settings, storage: Storage, c: Candidate) -> Loaded:
    """The record, read whole when it is small, else opened for streaming: a record of
    hundreds of MB must not be held in memory per request (ARCHIVER_RAW_STREAM_BYTES)."""
    if c.length <= settings.raw_stream_bytes:
        data = member_bytes(settings, storage, c.filename, c.file_state, c.storage_key, c.offset, c.length)
        if len(data) != c.length:
            raise RawReplayError(f"{c.filename}: wanted {c.length} bytes at offset {c.offset}, got {len(data)}")
        return Loaded(parse_record(data))
    handle = member_file(settings, storage, c)
    try:
        stream = DecompressingBufferedReader(LimitReader(handle, c.length))
        return Loaded(ArcWarcRecordLoader().parse_record_stream(stream), handle)
    except Exception:
        handle.close()
        raise


def original_of(settings: Settings, storage: Storage, session: Session, revisit: Candidate, viewer: Viewer):
    """The response record a revisit repeats (its WARC-Refers-To, which archiver.dedup chose
    when it wrote the revisit), read back; None when that capture is hidden from the viewer."""
    row = session.execute(queries_for(viewer)[1], {"record_id": revisit.refers_to}).first()
    if row is None:
        return None
    return _read(settings, storage, Candidate(*row, timestamp=revisit.timestamp))


# --- the answer --------------------------------------------------------------------------

def answer_headers(http_headers, accept_encoding: str) -> tuple[list[tuple[str, str]], bool, bool]:
    """(headers to send, dechunk?, decode?) for the archived HTTP headers, as pywb's raw mode
    rewrites them: Transfer-Encoding is renamed and the body dechunked; a Content-Encoding
    the client does not accept is renamed (with Content-Length) and the body decoded."""
    encoding = http_headers.get_header("Content-Encoding")
    decode = bool(encoding) and encoding not in accept_encoding
    dechunk = False
    headers = []
    for name, value in http_headers.headers:
        lower = name.lower()
        keep = lower in PASS_ON
        if lower == "transfer-encoding":
            dechunk = True
        elif lower == "content-encoding" and decode:
            keep = False
        elif lower == "content-length":
            keep = value == "0" or (not decode and value.strip().isdigit())
        headers.append((name, value) if keep else (HEADER_PREFIX_ORIG + name, value))
    return headers, dechunk, decode


def payload(loaded: Loaded, dechunk: bool, decode: bool) -> "bytes | StreamedBody":
    record = loaded.record
    if decode:
        stream = record.content_stream()          # dechunked and decoded by warcio
    else:
        stream = ChunkedDataReader(record.raw_stream, decomp_type=None) if dechunk else record.raw_stream
    return stream.read() if loaded.handle is None else StreamedBody(stream, loaded)


class StreamedBody:
    """A streamed record's payload, chunk by chunk; closing it (as WSGI servers do, also when
    it was never read) closes the WARC file."""

    def __init__(self, stream, loaded: Loaded):
        self.stream, self.loaded = stream, loaded

    def __iter__(self):
        try:
            while chunk := self.stream.read(STREAM_CHUNK):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self.loaded.close()


def memento_links(settings: Settings, url: str, stamp: str, timestamps: list[str],
                  filename: str, offset: int) -> str:
    """The Link header `archiver replay` sends with a memento (pywb's, completed by
    memento.py): the same replay-origin addresses, so a client follows the same TimeGate."""
    base = f"{replay_origin(settings)}/{COLLECTION}/"
    links = [(url, [("rel", "original")]), (base + url, [("rel", "timegate")]),
             (f"{base}timemap/link/{url}", [("rel", "timemap"), ("type", "application/link-format")]),
             (f"{base}{stamp}/{url}", [("rel", "memento"), ("datetime", http_date(stamp)),
                                       ("collection", COLLECTION)])]
    links = _with_navigation(links, navigation(timestamps, stamp), base, url)
    if settings.public_url:
        target = (f"{settings.public_url}/api/v1/records/describedby?file={quote(filename, safe='')}"
                  f"&offset={offset}")
        links += [(f"{target}&then=provenance", [("rel", "describedby"), ("type", "application/json"),
                                                 ("title", "provenance")]),
                  (f"{target}&then=verify", [("rel", "describedby"), ("type", "application/json"),
                                             ("title", "verification")])]
    return format_links(links)


def find_raw(settings: Settings, storage: Storage, session: Session, url: str, stamp: str,
             viewer: Viewer, accept_encoding: str = "") -> RawMemento | None:
    """The raw memento of `url` at `stamp` (14 digits); a RawMemento with only
    `redirect_to` set when the closest capture is at another second; None when the viewer
    may see no capture of `url` (or, for a revisit, the capture holding its payload)."""
    found, captured = candidates(settings, storage, session, url, viewer), url
    for variant in () if found else url_variants(url):
        found, captured = candidates(settings, storage, session, variant, viewer), variant
        if found:
            break
    if not found:
        return None
    chosen = closest(found, stamp)
    if chosen.timestamp != stamp or captured != url:
        return RawMemento(timestamp=chosen.timestamp, redirect_to=chosen.timestamp, url=captured)
    loaded = _read(settings, storage, chosen)
    open_files = [loaded]               # closed on the way out, but for the one streamed
    try:
        record, body_from = loaded.record, loaded
        if chosen.record_type == "revisit":
            original = original_of(settings, storage, session, chosen, viewer)
            if original is None:
                return None
            open_files.append(original)
            body_from = original
            digest = record.rec_headers.get_header("WARC-Payload-Digest")
            if digest and digest != original.record.rec_headers.get_header("WARC-Payload-Digest"):
                raise RawReplayError(f"{chosen.filename}: the revisit at offset {chosen.offset} refers to "
                                     f"{chosen.refers_to}, whose payload digest differs")
        http_headers = record.http_headers if record.http_headers and record.http_headers.headers \
            else body_from.record.http_headers
        headers, dechunk, decode = answer_headers(http_headers, accept_encoding)
        if body_from is not loaded:     # the bytes are the original's: its framing decides
            dechunk = bool(body_from.record.http_headers.get_header("Transfer-Encoding"))
        body = payload(body_from, dechunk, decode)
        if isinstance(body, StreamedBody):
            open_files.remove(body_from)        # the body closes it when sent
    finally:
        for each in open_files:
            each.close()
    status = http_headers.statusline if " " in http_headers.statusline else http_headers.statusline + " None"
    served = stamp_of_iso(record.rec_headers.get_header("WARC-Date"))
    timestamps = sorted({c.timestamp for c in found})
    headers += [("Memento-Datetime", http_date(served)), *SECURITY_HEADERS,
                ("Link", memento_links(settings, url, served, timestamps, chosen.filename, chosen.offset))]
    return RawMemento(timestamp=served, status=status, headers=headers, body=body)


__all__ = ["find_raw", "parse_timestamp", "RawMemento", "RawReplayError", "closest", "candidates"]

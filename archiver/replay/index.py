"""The replay index: CDXJ lines for every capture, kept up to date at capture time.

pywb reads `<data>/replay/indexes/` as one index: it binary-searches every `*.cdxj` file in
the folder and merges the answers. Each file is sorted; together they are a small
log-structured merge tree:

- `add_capture_to_index` makes the lines cdxj-indexer makes of one capture's records
  (from the heads the WARC writer kept, read as it reads them: archiver/replay/heads.py;
  or else by cdxj-indexer from the records read back) and writes them, sorted, as a new
  level-0 file (`L0-*.cdxj`): one small file per capture;
- when a level holds `FANOUT` files, they are merged into one file of the next level, so a
  line is rewritten about log_FANOUT(lines) times in its life and a lookup opens at most
  FANOUT - 1 files per level;
- `rebuild_index` (`archiver reindex`) replaces everything with one `base-*.cdxj` made from
  the catalogue.

Every file appears whole (written under a name pywb ignores, then renamed) and a merge
renames its output into place before it deletes its inputs, so a lookup never misses a
line; in the instant between the two it may see a line twice. One `flock` serialises
writers, so several worker processes can add captures at once.

The CDXJ `filename` and `offset` of each line are those of the catalogue: the WARC file's
name (its storage key once sealed) and the record's offset in it. pywb finds the file
through `warc-paths.txt` while it is `.open` and in the storage folder once sealed.
"""
from __future__ import annotations

import fcntl
import functools
import heapq
import io
import json
import os
import tempfile
import time
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Protocol, TextIO

from archiver.config import Settings
from archiver.replay.heads import block_length, head_line, read_head
from archiver.replay.paths import ReplayPaths
from archiver.warc import record_bytes
from archiver.warc.names import OPEN_SUFFIX

FANOUT = 16
CHUNK_LINES = 100_000          # lines sorted in memory at a time by rebuild_index


class Located(Protocol):
    """A record's place in its WARC file (RecordLocation, CaptureRecord)."""
    offset: int
    length: int


def cdxj_lines(members: Iterable[tuple[int, bytes]], filename: str) -> list[str]:
    """CDXJ lines (without newline) for records given as (offset in `filename`, gzip member).

    cdxj-indexer reads the members as one stream with its default record set (response,
    revisit, resource, metadata; not our `conversion` records, docs/warc.md); offsets in
    that stream are mapped back to the record's offset in the WARC file.
    """
    from cdxj_indexer.main import CDXJIndexer   # only where indexing happens (workers, reindex)

    stream = io.BytesIO()
    where: dict[int, int] = {}
    for offset, data in members:
        where[stream.tell()] = offset
        stream.write(data)
    stream.seek(0)
    out = io.StringIO()
    indexer = _closing_indexer(CDXJIndexer)(out, [stream], filename=filename)
    try:
        indexer.process_all()
    finally:
        indexer.close_spools()
    lines = []
    for line in out.getvalue().splitlines():
        key, timestamp, fields = line.split(" ", 2)
        block = json.loads(fields)
        block["offset"] = str(where[int(block["offset"])])
        block["filename"] = filename
        lines.append(f"{key} {timestamp} {json.dumps(block)}")
    return lines


# WARC types cdxj-indexer never makes a line of (its default record set, without
# post_append or request fields: each record is indexed on its own). Records known to be
# of these types are not read back: a capture's `conversion` record (its text) is the
# second largest, and decompressing it cost as much as indexing the rest.
NOT_INDEXED = frozenset({"request", "conversion", "warcinfo"})


@functools.cache
def _closing_indexer(base):
    """cdxj-indexer leaves open the temporary file warcio spools a record's block into when
    it computes a missing WARC-Payload-Digest (records of other tools: archiver/importer)."""
    class ClosingIndexer(base):
        _spools: list | None = None

        def _get_digest(self, record, name):
            value = super()._get_digest(record, name)
            if getattr(record, "_orig_stream", None) is not None:   # read to its end later
                self._spools = [*(self._spools or []), record.raw_stream]
            return value

        def close_spools(self) -> None:
            for spool in self._spools or []:
                spool.close()
            if getattr(self, "writer", None) is not None:   # the BufferWARCWriter that digested
                self.writer.out.close()
    return ClosingIndexer


def capture_lines(settings: Settings, storage, filename: str, records: Iterable[Located]) -> list[str]:
    """CDXJ lines of these records of `filename`. Records that say their `record_type`
    (RecordLocation, CaptureRecord) are skipped when it is never indexed.

    Records the writer kept the head of (RecordLocation.head) are not read back at all
    (`head_lines`). Otherwise the indexer is given each record read back and cut to its
    headers (`headers_only`): what its fields come from, without inflating the page's body.
    When any record cannot be cut so, every record is indexed whole, which gives the same
    lines (tests/test_warc_compression.py)."""
    wanted = sorted((r for r in records if getattr(r, "record_type", None) not in NOT_INDEXED),
                    key=lambda r: r.offset)
    if not wanted:
        return []
    lines = head_lines(wanted, filename)
    if lines is not None:
        return lines
    heads = [headers_only(record_bytes(storage, settings, filename, r.offset, min(r.length, HEAD_BYTES)))
             for r in wanted]
    if any(head is None for head in heads):
        members = [(r.offset, record_bytes(storage, settings, filename, r.offset, r.length)) for r in wanted]
        return cdxj_lines(members, filename)
    lengths = {r.offset: r.length for r in wanted}
    lines = []
    for line in cdxj_lines([(r.offset, head) for r, head in zip(wanted, heads)], filename):
        key, timestamp, fields = line.split(" ", 2)
        block = json.loads(fields)
        block["length"] = str(lengths[int(block["offset"])])    # the gzip member's, in the file
        lines.append(f"{key} {timestamp} {json.dumps(block)}")
    return lines


@dataclass(frozen=True)
class _Place:
    """What cdxj-indexer asks its record iterator of a record: where it is in the file."""
    offset: int
    length: int

    def get_record_offset(self) -> int:
        return self.offset

    def get_record_length(self) -> int:
        return self.length


def head_lines(records: list[Located], filename: str) -> list[str] | None:
    """The lines cdxj-indexer makes of these records (in offset order) of `filename`, made
    from the heads the writer kept (RecordLocation.head) instead of the stored records.

    Heads of the plain shape our writer produces are read in one pass (archiver/replay/heads.py,
    proved against cdxj-indexer in tests/test_replay_heads.py); when any is not, warcio and
    cdxj-indexer make the capture's lines (`indexer_head_lines`). Only where the record is
    (offset, length) comes from the catalogue, as on the other paths. None when a record has
    no head or parses oddly, or does not state its WARC-Payload-Digest (the indexer would
    digest a payload the head lacks): then the records are read back.
    """
    if any(getattr(r, "head", None) is None for r in records):
        return None
    heads = [read_head(r.head) for r in records]
    if any(head is None for head in heads):
        return indexer_head_lines(records, filename)
    if not all(head.payload_digest for head in heads):
        return None
    lines = (head_line(head, r.offset, r.length, filename) for r, head in zip(records, heads))
    return [line for line in lines if line is not None]


def indexer_head_lines(records: list[Located], filename: str) -> list[str] | None:
    """`head_lines` by warcio's record loader and cdxj-indexer's own code: the loader reads
    each head as cdxj-indexer's ArchiveIterator reads the record, and cdxj-indexer picks the
    record and makes its line. None as for `head_lines`."""
    from cdxj_indexer.main import CDXJIndexer   # only where indexing happens (workers, reindex)
    from warcio.recordloader import ArcWarcRecordLoader

    # the loader of the ArchiveIterator that CDXJIndexer makes
    loader = ArcWarcRecordLoader(verify_http=False, arc2warc=True)
    try:
        loaded = [loader.parse_record_stream(io.BytesIO(r.head)) for r in records]
    except Exception:        # noqa: BLE001  (the read-back path gives the lines, or the error)
        return None
    if not all(record.rec_headers.get_header("WARC-Payload-Digest") for record in loaded):
        return None
    out = io.StringIO()
    indexer = CDXJIndexer(out, [], filename=filename)
    indexer.curr_filename = filename           # what its process_one sets for each file read
    for located, record in zip(records, loaded):
        if indexer.filter_record(record):
            indexer.process_index_entry(_Place(located.offset, located.length), record, filename, out)
    return out.getvalue().splitlines()


HEAD_BYTES = 64 * 1024    # of a record's gzip member, and of its start inflated: its headers
HEAD_STEP = 8 * 1024


def headers_only(member: bytes) -> bytes | None:
    """The record in this gzip member (or its first HEAD_BYTES), uncompressed and cut to
    its WARC headers, with Content-Length set to match, then the HTTP headers where
    warcio would parse some (an HTTP(S) response, request or revisit with a block): all
    that cdxj-indexer's default fields read (URL, date, type, status, MIME type) when the
    record states its WARC-Payload-Digest. None when it does not (the indexer would digest
    the payload), or when the headers do not end within HEAD_BYTES."""
    from warcio.recordloader import ArcWarcRecordLoader
    from warcio.statusandheaders import StatusAndHeadersParser, StatusAndHeadersParserException
    inflater, head, started = zlib.decompressobj(zlib.MAX_WBITS + 16), b"", False

    def inflate_more() -> bool:     # 8 KB at a time: headers seldom need more
        nonlocal head, started
        if len(head) >= HEAD_BYTES or (started and not inflater.unconsumed_tail):
            return False
        head += inflater.decompress(inflater.unconsumed_tail if started else member, HEAD_STEP)
        started = True
        return True

    try:
        while (end := head.find(b"\r\n\r\n")) < 0:
            if not inflate_more():
                return None
        warc = StatusAndHeadersParser(["WARC/1.1", "WARC/1.0"]).parse(io.BytesIO(head[:end + 4]))
        if not warc.get_header("WARC-Payload-Digest"):
            return None
        loader = ArcWarcRecordLoader()
        uri = loader._ensure_target_uri_format(warc) or ""     # as warcio reads it: no <>
        kept = b""
        if (warc.get_header("WARC-Type") in loader.HTTP_RECORDS and uri.startswith(loader.HTTP_SCHEMES)
                and block_length(warc.get_header("Content-Length")) != 0):
            while (http_end := head.find(b"\r\n\r\n", end + 4)) < 0:
                if not inflate_more():
                    return None
            kept = head[end + 4:http_end + 4]
    except (zlib.error, StatusAndHeadersParserException, EOFError):
        return None                  # not a gzip WARC record (an ARC file's): read it whole
    warc.replace_header("Content-Length", str(len(kept)))
    return warc.to_bytes() + kept + b"\r\n\r\n"


def add_capture_to_index(settings: Settings, storage, filename: str, records: Iterable[Located]) -> int:
    """Index a just-stored capture so replay finds it at once; returns the lines added.

    `filename` is the WARC file's name as catalogued (`WrittenCapture.filename`), `records`
    the capture's records with their offsets and lengths (`WrittenCapture.records`). The
    file may still be `.open`: it is entered in pywb's path index too.
    """
    lines = capture_lines(settings, storage, filename, records)
    add_lines(settings, [filename], lines)
    return len(lines)


def add_lines(settings: Settings, filenames: list[str], lines: list[str]) -> None:
    """Add CDXJ lines (of records in the WARC files named) as one new sorted index file."""
    paths = ReplayPaths.of(settings).ensure()
    with _locked(paths):
        _add_warc_paths(paths, filenames)
        if lines:
            _write_sorted(paths.indexes, "L0", sorted(lines))
            _compact(paths.indexes)


def remove_lines(settings: Settings, lines: Iterable[str]) -> int:
    """Take these lines out of every index file (a capture hidden from replay: private or
    taken down, archiver/accounts/replay_sync.py); returns how many were removed.

    Each file that holds one is rewritten without it under a new name of the same level,
    then the old file is deleted. Costs a read of the whole index: meant for the rare takedown.
    """
    unwanted = {line.rstrip("\n") for line in lines}
    if not unwanted:
        return 0
    paths = ReplayPaths.of(settings).ensure()
    removed = 0
    with _locked(paths):
        for path in _index_files(paths.indexes):
            with open(path, encoding="utf-8") as handle:
                every = handle.readlines()
            kept = [line for line in every if line.rstrip("\n") not in unwanted]
            dropped = len(every) - len(kept)
            if not dropped:
                continue
            removed += dropped
            if not kept:
                path.unlink()
                continue
            with _new_file(paths.indexes) as (out, tmp):
                out.writelines(kept)
            _publish(paths.indexes, tmp, path.name.split("-", 1)[0])
            path.unlink()
            _fsync_dir(paths.indexes)
    return removed


def rebuild_index(settings: Settings, sessions, storage) -> int:
    """Replace the whole index with one made from the catalogue; returns the lines written.
    Captures hidden from replay (archiver.accounts: private, taken down) are left out.

    Holds the index lock throughout: captures stored meanwhile wait, then add their lines.
    """
    from sqlalchemy import select

    from archiver.accounts.models import CaptureRestriction
    from archiver.models import CaptureRecord, WarcFile

    paths = ReplayPaths.of(settings).ensure()
    with _locked(paths):
        old = _index_files(paths.indexes)
        with tempfile.TemporaryDirectory(dir=paths.root, prefix=".rebuild-") as work:
            chunks: list[Path] = []
            pending: list[str] = []
            count = 0
            with sessions() as session:
                names = list(session.scalars(select(WarcFile.filename).order_by(WarcFile.id)))
                rows = session.execute(
                    select(CaptureRecord.capture_id, WarcFile.filename, CaptureRecord.offset,
                           CaptureRecord.length)
                    .join(WarcFile, WarcFile.id == CaptureRecord.warc_file_id)
                    .where(CaptureRecord.capture_id.not_in(select(CaptureRestriction.capture_id)))
                    .order_by(CaptureRecord.capture_id, WarcFile.filename, CaptureRecord.offset))
                group: list = []
                for row in rows:
                    if group and (group[0].capture_id, group[0].filename) != (row.capture_id, row.filename):
                        pending.extend(capture_lines(settings, storage, group[0].filename, group))
                        group = []
                    group.append(row)
                    if len(pending) >= CHUNK_LINES:
                        count += len(pending)
                        chunks.append(_write_chunk(Path(work), pending))
                        pending = []
                if group:
                    pending.extend(capture_lines(settings, storage, group[0].filename, group))
            count += len(pending)
            chunks.append(_write_chunk(Path(work), pending))
            _merge_into(paths.indexes, "base", chunks)
        for path in old:
            path.unlink(missing_ok=True)
        _rewrite_warc_paths(paths, names)
    return count


def index_files(settings: Settings) -> list[Path]:
    """The CDXJ files pywb reads now."""
    return _index_files(ReplayPaths.of(settings).indexes)


def lookup(settings: Settings, surt_prefix: str) -> list[str]:
    """All index lines whose key starts with `surt_prefix`, merged in order (for tests, tools)."""
    found = []
    for path in _index_files(ReplayPaths.of(settings).indexes):
        with open(path, encoding="utf-8") as handle:
            found.extend(line.rstrip("\n") for line in handle if line.startswith(surt_prefix))
    return sorted(set(found))


# --- files ---------------------------------------------------------------------------

@contextmanager
def _locked(paths: ReplayPaths) -> Iterator[None]:
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _index_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(".cdxj"))


def _new_name(level: str) -> str:
    # names sort by level, then by time of writing
    return f"{level}-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.cdxj"


@contextmanager
def _new_file(folder: Path) -> Iterator[tuple[TextIO, Path]]:
    """A new text file in `folder` under a name pywb ignores, fsynced once written."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    with open(fd, "w", encoding="utf-8") as handle:
        yield handle, Path(tmp)
        handle.flush()
        os.fsync(fd)


def _publish(folder: Path, tmp: Path, level: str) -> Path:
    """Rename a file written by `_new_file` into the folder under a name pywb reads."""
    target = folder / _new_name(level)
    os.replace(tmp, target)
    _fsync_dir(folder)
    return target


def _write_sorted(folder: Path, level: str, lines: list[str]) -> Path:
    with _new_file(folder) as (handle, tmp):
        handle.write("".join(line + "\n" for line in lines))
    return _publish(folder, tmp, level)


def _write_chunk(work: Path, lines: list[str]) -> Path:
    fd, tmp = tempfile.mkstemp(dir=work, suffix=".chunk")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in sorted(lines))
    return Path(tmp)


def _merge_into(folder: Path, level: str, sources: list[Path]) -> Path:
    """Merge sorted files into one new sorted file in `folder`, dropping repeated lines."""
    handles = [open(p, encoding="utf-8") for p in sources]
    try:
        with _new_file(folder) as (out, tmp):
            previous = None
            for line in heapq.merge(*handles):
                if line != previous:
                    out.write(line)
                    previous = line
    finally:
        for handle in handles:
            handle.close()
    return _publish(folder, tmp, level)


def _compact(folder: Path) -> None:
    """Merge a full level (FANOUT files) into one file of the next level, upwards.

    A level only grows when the one below is merged, so the first level that is not full
    ends the work."""
    level, names = 0, os.listdir(folder)
    while True:
        prefix = f"L{level}-"
        at_level = [name for name in names if name.startswith(prefix) and name.endswith(".cdxj")]
        if len(at_level) < FANOUT:
            return
        files = [folder / name for name in at_level]
        _merge_into(folder, f"L{level + 1}", files)
        for path in files:            # after the merged file is in place: never a gap
            path.unlink()
        _fsync_dir(folder)
        level, names = level + 1, os.listdir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- pywb's path index ----------------------------------------------------------------

def _warc_path_line(paths: ReplayPaths, name: str) -> str:
    return f"{name}\t{paths.open_dir / (name + OPEN_SUFFIX)}"


def _add_warc_paths(paths: ReplayPaths, names: list[str]) -> None:
    current = paths.warc_paths.read_text(encoding="utf-8").splitlines()
    known = {line.split("\t", 1)[0] for line in current}
    new = [_warc_path_line(paths, n) for n in names if n not in known]
    if new:
        _replace_text(paths.warc_paths, sorted(current + new))


def _rewrite_warc_paths(paths: ReplayPaths, names: list[str]) -> None:
    _replace_text(paths.warc_paths, sorted({_warc_path_line(paths, n) for n in names}))


def _replace_text(path: Path, lines: list[str]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)

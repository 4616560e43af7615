"""Storing fetched captures: the moment their records become durable, replayable and
catalogued as `stored`.

A capture whose WARC records are written (not yet fsynced) waits in a `StoreBatch` until
`commit()`: one fsync of the WARC file, one new replay index file and one catalogue
transaction (rows, full-text index, evidence log, webhooks) serve every capture waiting.
A capture task runs up to ARCHIVER_CAPTURE_BATCH captures into one batch (docs/deploy.md,
Throughput); a capture alone is a batch of one.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from sqlalchemy import JSON, bindparam, insert, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from archiver.accounts.models import CaptureRestriction
from archiver.background import in_background
from archiver.db import transaction
from archiver.driver_rows import DriverRows, PreparedRows
from archiver.ledger.events import capture_entries, record_failure
from archiver.ledger.log import PreparedEntries, append_prepared, prepare_entries
from archiver.models import FAILED, STORED, Capture, CaptureRecord, WarcFile
from archiver.provenance import software_versions
from archiver.replay.index import add_lines, capture_lines, remove_lines
from archiver.search import search_index_for
from archiver.sites import site_of
from archiver.warc.writer import WrittenCapture
from archiver.webhooks import create_deliveries
from archiver.webhooks import mark_unqueued as mark_delivery_unqueued

if TYPE_CHECKING:
    from archiver.capture import CaptureContext

log = logging.getLogger(__name__)

# A capture written but not yet stored is still `fetching` in the catalogue. The batch is
# stored at the latest this long after its first capture was written, far inside the lease
# (ARCHIVER_TASK_TIME_LIMIT) after which another worker may take a `fetching` capture.
MAX_WAIT_SECONDS = 2.0


@dataclass
class Written:
    """A capture whose records are in the WARC file, waiting to be stored."""
    capture: Capture                  # detached, its fetch fields filled
    written: WrittenCapture
    state: str                        # what it becomes: stored, or failed (kept as evidence)
    error_code: str | None
    error: str | None


@dataclass
class StoreBatch:
    ctx: CaptureContext
    waiting: list[Written] = field(default_factory=list)
    stored: list[Written] = field(default_factory=list)   # every one committed so far
    _since: float = 0.0

    def add(self, item: Written) -> None:
        if not self.waiting:
            self._since = time.monotonic()
        self.waiting.append(item)
        if time.monotonic() - self._since >= MAX_WAIT_SECONDS:
            self.commit()

    def holds_final_url(self, url: str | None) -> bool:
        """Whether a waiting capture has this final URL: a later capture of it must be
        compared with that one, so the batch is stored first (archiver/changes.py)."""
        return url is not None and any(item.capture.final_url == url for item in self.waiting)

    def commit(self) -> None:
        """Store every waiting capture. Records that cannot be made durable fail their
        captures; if storing them together fails, each is stored on its own, so one bad
        capture (deleted meanwhile, say) does not hold back the others.

        The order holds as it always did: the records are durable before the replay index
        names them, and the index file is durable before the catalogue says `stored`. The
        waits overlap the work that does not depend on them (archiver/background.py): the
        index lines are made while the WARC file is fsynced, the rows are written while
        the index file is, and the transaction commits once both are done.

        The transaction (on SQLite, the writer lock other workers wait for) holds only
        what depends on what it reads: the rows' parameters and the evidence entries'
        bytes are made before it (_prepare), and in it come the time the rows are stored
        at, the entries' positions and leaf hashes, and a capture's entries again if its
        row changed since its claim."""
        items, self.waiting = self.waiting, []
        if not items:
            return
        syncing = in_background(self.ctx.writer.sync)
        lines_of = _replay_lines(self.ctx, items)
        try:
            syncing.result()
        except OSError as exc:
            for item in items:
                storage_failed(self.ctx, item.capture.id, exc)
            return
        # before the catalogue says "stored": a capture page opened at once must find it in replay
        indexing = in_background(_add_to_replay, self.ctx, items, lines_of)
        try:
            self._store(items, before_commit=lambda: _hide_again(self.ctx, indexing.result()))
        except Exception:    # noqa: BLE001 - find the one that fails, store the rest
            _hide_again(self.ctx, indexing.result())
            if len(items) == 1:
                raise
            log.exception("storing %d captures together failed; storing each on its own", len(items))
            for item in items:
                try:
                    self._store([item])
                except Exception:   # noqa: BLE001 - it stays `fetching`; the lease frees it
                    log.exception("capture %s: its records are written but it could not be stored",
                                  item.capture.id)

    def _store(self, items: list[Written], before_commit: Callable[[], None] | None = None) -> None:
        deliveries: list[int] = []
        # everything that does not depend on what the transaction reads is made before it
        # waits for the writer (SQLite: the WriterLock, archiver/db.py)
        rows = _prepare(self.ctx, items)
        with transaction(self.ctx.sessions) as session:
            changed = _store_rows(session, items, rows)
            search_index_for(session).index_all(session, [item.capture.id for item in items])
            # one take of the evidence log's append lock for the batch; a capture whose row
            # changed since its claim is described again, as its row is now
            append_prepared(session, [_entries(session.get_bind().dialect, item) if item.capture.id in changed
                                      else entries for item, entries in zip(items, rows.entries)])
            for item in items:
                if item.state == STORED:
                    deliveries += create_deliveries(session, self.ctx.settings, item.capture)
            if before_commit is not None:
                before_commit()
        self.stored += items
        _queue_deliveries(self.ctx, deliveries)


def fail(ctx: CaptureContext, capture_id: int, code: str, message: str,
         chain: list | None = None) -> None:
    """Mark the capture failed, with the reason, and log a `failed` event."""
    with transaction(ctx.sessions) as session:
        row = session.get(Capture, capture_id)
        row.state = FAILED
        row.error_code = code
        row.error = message
        row.finished_at = datetime.now(timezone.utc)
        row.software = software_versions()
        if chain:
            row.redirect_chain = chain
        session.flush()
        record_failure(session, row)


def storage_failed(ctx: CaptureContext, capture_id: int, exc: OSError) -> None:
    fail(ctx, capture_id, "storage",
         f"the WARC records could not be written ({exc.strerror or exc}); nothing of this "
         f"capture was stored. Free space in {ctx.settings.open_warc_dir} (or fix the "
         "error) and submit it again")


def _queue_deliveries(ctx: CaptureContext, delivery_ids: list[int]) -> None:
    if ctx.queue_delivery is None:
        return
    for delivery_id in delivery_ids:
        try:
            ctx.queue_delivery(delivery_id)
        except Exception as exc:  # noqa: BLE001 - broker down: say so on the delivery
            log.exception("could not queue webhook delivery %s", delivery_id)
            mark_delivery_unqueued(ctx.sessions, delivery_id, exc)


def _replay_lines(ctx: CaptureContext, items: list[Written]) -> dict[int, list[str]] | None:
    """The replay index lines of each capture, but those made private or taken down
    meanwhile. Their records are durable by the time the lines are used, so a failure here
    is logged, not fatal: `archiver reindex` rebuilds the index. None after a failure."""
    try:
        hidden = _hidden(ctx, [item.capture.id for item in items])
        return {item.capture.id: capture_lines(ctx.settings, ctx.writer.storage,
                                               item.written.filename, item.written.records)
                for item in items if item.capture.id not in hidden}
    except Exception:
        log.exception("captures stored but not added to the replay index; run `archiver reindex`")
        return None


def _add_to_replay(ctx: CaptureContext, items: list[Written],
                   lines_of: dict[int, list[str]] | None) -> dict[int, list[str]]:
    """Add the lines to the replay index (file work only: it runs beside the rows being
    written). Returns the lines added, by capture."""
    if not lines_of:
        return {}
    try:
        shown = [item for item in items if item.capture.id in lines_of]
        add_lines(ctx.settings, sorted({item.written.filename for item in shown}),
                  [line for lines in lines_of.values() for line in lines])
        return lines_of
    except Exception:
        log.exception("captures stored but not added to the replay index; run `archiver reindex`")
        return {}


def _hide_again(ctx: CaptureContext, lines_of: dict[int, list[str]]) -> None:
    """A capture hidden just now: its restriction's replay sync may have run before its
    lines were in, so they are taken out again."""
    try:
        for capture_id in _hidden(ctx, list(lines_of)):
            remove_lines(ctx.settings, lines_of[capture_id])
    except Exception:
        log.exception("a capture hidden meanwhile may still be in the replay index; run `archiver reindex`")


_RESTRICTIONS = CaptureRestriction.__table__
_RESTRICTED = (select(_RESTRICTIONS.c.capture_id)
               .where(_RESTRICTIONS.c.capture_id.in_(bindparam("capture_ids", expanding=True))))


def _hidden(ctx: CaptureContext, capture_ids: list[int]) -> set[int]:
    # a plain connection, not a session: this runs twice a batch and loads no object
    if not capture_ids:
        return set()
    with ctx.sessions.kw["bind"].connect() as connection:
        return set(connection.execute(_RESTRICTED, {"capture_ids": capture_ids}).scalars())


FETCH_FIELDS = (
    "final_url", "fetched_at", "redirect_chain", "server_ip", "server_port", "tls_version",
    "tls_cipher", "cert_sha256", "cert_subject", "cert_issuer", "cert_not_before",
    "cert_not_after", "http_status", "http_headers", "content_type", "payload_size",
    "payload_sha256", "truncated", "title", "text", "text_sha256", "text_reason",
    "text_metadata", "extractor", "software", "requisites", "browser",
)


_CAPTURES = Capture.__table__
# what storing a capture writes on its row: the fetch fields and these
STORE_FIELDS = FETCH_FIELDS + ("warc_file_id", "stored_at", "finished_at", "state", "error_code", "error",
                               "site", "change", "previous_id", "revisit_of")


def _store_statement():
    """UPDATE captures SET <STORE_FIELDS> WHERE id = :capture_id, run once for all the
    captures of a batch (executemany)."""
    def value(column):
        # None is SQL NULL, as the ORM left an unset JSON column, not the JSON text 'null'
        kind = JSON(none_as_null=True) if isinstance(column.type, JSON) else column.type
        return bindparam(f"set_{column.key}", type_=kind)
    return (update(_CAPTURES).where(_CAPTURES.c.id == bindparam("capture_id"))
            .values({name: value(_CAPTURES.c[name]) for name in STORE_FIELDS}))


_STORE = DriverRows(_store_statement(), ["capture_id", *(f"set_{name}" for name in STORE_FIELDS)])
# the rest of each row as it is now, read after the UPDATE: the ledger's agent and the
# webhooks read it; a capture without a row was deleted meanwhile
_UNWRITTEN = [c for c in _CAPTURES.c if c.key not in STORE_FIELDS and c.key != "id"]
_UNWRITTEN_NAMES = tuple(c.key for c in _UNWRITTEN)
_STORED_ROWS = (select(_CAPTURES.c.id.label("stored_id"), *_UNWRITTEN)
                .where(_CAPTURES.c.id.in_(bindparam("capture_ids", expanding=True))))
_WARC_FILES = WarcFile.__table__
_WARC_FILE_IDS = (select(_WARC_FILES.c.filename, _WARC_FILES.c.id)
                  .where(_WARC_FILES.c.filename.in_(bindparam("filenames", expanding=True))))
_RECORD_COLUMNS = ("capture_id", "warc_file_id", "record_type", "record_id", "target_uri", "offset", "length",
                   "block_digest", "payload_digest", "refers_to", "requisite")
_INSERT_RECORDS = DriverRows(insert(CaptureRecord.__table__), _RECORD_COLUMNS)
# the time the transaction stores the rows at: the one part of an UPDATE's row made in it
_TIMES = ("stored_at", "finished_at")
_PREPARED = tuple((f"set_{name}", name) for name in STORE_FIELDS if name not in _TIMES)
_MISSING = object()


@dataclass(frozen=True)
class _Rows:
    """What storing a batch writes, made before its transaction (_prepare)."""
    updates: PreparedRows                # the captures' rows, but the time they are stored at
    records: PreparedRows                # their records' rows
    entries: list[PreparedEntries]       # each capture's evidence log entries, as claimed


def _prepare(ctx: CaptureContext, items: list[Written]) -> _Rows:
    """The batch's rows and evidence log entries, converted for the database's driver (JSON
    serialised, datetimes converted): none of it depends on what the transaction reads.
    Each `item.capture` takes what its row gets beside its fetch fields (its state, its
    WARC file), as its row will. NoResultFound when a WARC file has no row."""
    engine = ctx.sessions.kw["bind"]
    filenames = sorted({item.written.filename for item in items})
    # the row is written when the file is opened (archiver/catalogue_hooks.py) and never changes
    with engine.connect() as connection:
        warc_file_ids = dict(connection.execute(_WARC_FILE_IDS, {"filenames": filenames}).all())
    updates, records = [], []
    for item in items:
        capture = item.capture
        if item.written.filename not in warc_file_ids:
            raise NoResultFound(f"the catalogue has no row for the WARC file {item.written.filename}")
        capture.warc_file_id = warc_file_ids[item.written.filename]
        capture.state, capture.error_code, capture.error = item.state, item.error_code, item.error
        capture.site = site_of(capture.final_url or capture.requested_url)
        params = {param: getattr(capture, name) for param, name in _PREPARED}
        params["capture_id"] = capture.id
        updates.append(params)
        records += _record_rows(capture.id, capture.warc_file_id, item.written.records)
    return _Rows(_STORE.prepare(engine.dialect, updates, later=[f"set_{name}" for name in _TIMES]),
                 _INSERT_RECORDS.prepare(engine.dialect, records),
                 [_entries(engine.dialect, item) for item in items])


def _entries(dialect, item: Written) -> PreparedEntries:
    return prepare_entries(dialect, capture_entries(item.capture, item.written.records, item.written.filename))


def _store_rows(session: Session, items: list[Written], rows: _Rows) -> set[int]:
    """Write the captures' rows and their records' rows, a few statements for the batch,
    and bring each `item.capture` (detached) up to date with its row for the steps that
    follow. Returns the captures whose row had changed since their claim (another worker
    took one over, say). NoResultFound when a capture has no row."""
    connection = session.connection()
    stored_at = datetime.now(timezone.utc)
    rows.updates.execute(connection, shared={f"set_{name}": stored_at for name in _TIMES})   # one executemany
    current = {row.stored_id: row for row in connection.execute(
        _STORED_ROWS, {"capture_ids": [item.capture.id for item in items]})}
    changed = set()
    for item in items:
        capture = item.capture
        row = current.get(capture.id)
        if row is None:
            raise NoResultFound(f"capture {capture.id} was deleted while it was being captured")
        capture.stored_at = capture.finished_at = stored_at
        held = vars(capture)
        for name, value in zip(_UNWRITTEN_NAMES, row[1:]):
            # most are as claimed: an attribute set is an ORM event, a comparison is not
            if held.get(name, _MISSING) != value:
                setattr(capture, name, value)
                changed.add(capture.id)
    rows.records.execute(connection)                    # one executemany
    return changed


def _record_rows(capture_id: int, warc_file_id: int, locations) -> list[dict]:
    return [{"capture_id": capture_id, "warc_file_id": warc_file_id, "record_type": loc.record_type,
             "record_id": loc.record_id, "target_uri": loc.target_uri, "offset": loc.offset,
             "length": loc.length, "block_digest": loc.block_digest, "payload_digest": loc.payload_digest,
             "refers_to": loc.refers_to, "requisite": loc.requisite}
            for loc in locations]

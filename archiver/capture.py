"""Running one capture: claim it, fetch, extract text, write WARC records, catalogue it.

`run_capture` is a plain function: the Celery task is a thin shell around it,
and tests call it directly without a broker.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import JSON, bindparam, insert, or_, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from archiver.browser.pipeline import better_text, browser_facts, browser_harvest, browser_resources, fetch_page
from archiver.accounts.models import CaptureRestriction
from archiver.changes import compare, previous_capture
from archiver.config import Settings
from archiver.db import transaction
from archiver.dedup import DedupPolicy, candidate_of, dedup_policy, original_response
from archiver.extract import extract
from archiver.fetch import DecodeError, FetchResult, decode_content, fetch
from archiver.ledger.events import record_capture_events, record_failure
from archiver.models import FAILED, FETCHING, FINAL_STATES, QUEUED, STORED, Capture, CaptureRecord, WarcFile
from archiver.provenance import capture_provenance, software_versions
from archiver.replay.index import add_lines, capture_lines, remove_lines
from archiver.requisites import Harvest, collect_requisites
from archiver.search import search_index_for
from archiver.sites import site_of
from archiver.warc import CaptureRecords, WarcFileWriter
from archiver.warc.records import Revisit
from archiver.webhooks import create_deliveries
from archiver.webhooks import mark_unqueued as mark_delivery_unqueued

log = logging.getLogger(__name__)

# Network failures worth trying again later; everything else is final at once.
TRANSIENT_ERRORS = frozenset({"connect", "timeout", "reset", "dns_temporary"})


class TransientCaptureError(Exception):
    """The fetch failed in a way that may pass; the capture was put back in the queue."""

    def __init__(self, capture_id: int, code: str, message: str, attempts: int):
        super().__init__(f"capture {capture_id}: {code}: {message}")
        self.capture_id, self.code, self.attempts = capture_id, code, attempts


@dataclass
class CaptureContext:
    """What a worker process holds on to between captures."""
    settings: Settings
    sessions: sessionmaker[Session]
    writer: WarcFileWriter
    fetcher: Callable[[str, Settings], FetchResult] = fetch
    # unchanged payloads become revisit records (archiver/dedup.py); None: from the settings
    dedup: DedupPolicy | None = None
    # queues a webhook delivery by id after the commit (workers: a Celery task); None leaves
    # the deliveries pending
    queue_delivery: Callable[[int], None] | None = None


@dataclass(frozen=True)
class Outcome:
    capture_id: int
    state: str                      # the capture's state after this run
    ran: bool                       # False when there was nothing to do (already final, or busy)
    retry_in: float | None = None   # another worker holds it: look again after this many seconds


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _claim_statement():
    """The conditional UPDATE of claim(), built once; RETURNING spares a SELECT of the row."""
    def value(name: str, column):
        return bindparam(name, type_=column.type)
    stale = (Capture.state == FETCHING) & (Capture.started_at < value("stale", Capture.started_at))
    return (update(Capture)
            .where(Capture.id == bindparam("capture_id"))
            .where(or_(Capture.state == QUEUED, stale))
            .values(state=FETCHING, started_at=value("now", Capture.started_at),
                    attempts=Capture.attempts + 1, task_id=value("task", Capture.task_id),
                    worker_host=value("host", Capture.worker_host))
            .returning(Capture)
            .execution_options(synchronize_session=False))


_CLAIM = _claim_statement()


def claim(ctx: CaptureContext, capture_id: int, task_id: str | None) -> Capture | None:
    """Take the capture for this worker with one conditional UPDATE (which returns the row).

    A capture is claimable when queued, or when it has been `fetching` for longer
    than the hard time limit (its worker died). Two workers cannot both win.
    """
    now = _now()
    stale = now - timedelta(seconds=ctx.settings.task_time_limit)
    with transaction(ctx.sessions) as session:
        return session.scalars(_CLAIM, {"capture_id": capture_id, "stale": stale, "now": now,
                                        "task": task_id, "host": ctx.settings.hostname}).first()


def run_capture(ctx: CaptureContext, capture_id: int, task_id: str | None = None) -> Outcome:
    capture = claim(ctx, capture_id, task_id)
    if capture is None:
        with ctx.sessions() as session:
            current = session.get(Capture, capture_id)
        if current is None:
            log.warning("capture %s does not exist; nothing to do", capture_id)
            return Outcome(capture_id, "missing", ran=False)
        if current.state in FINAL_STATES:
            return Outcome(capture_id, current.state, ran=False)
        # Someone else is fetching it right now: come back when their lease runs out.
        started = current.started_at or _now()
        if started.tzinfo is None:
            started = started.replace(tzinfo=timezone.utc)
        wait = ctx.settings.task_time_limit - (_now() - started).total_seconds()
        return Outcome(capture_id, current.state, ran=False, retry_in=max(wait, 1.0))

    if capture.attempts > ctx.settings.max_attempts:
        _fail(ctx, capture_id, "gave_up",
              f"gave up after {capture.attempts - 1} attempts that did not finish "
              "(the worker may have been killed while capturing this page)")
        return Outcome(capture_id, FAILED, ran=True)

    result = fetch_page(ctx.fetcher, ctx.settings, capture)   # by its mode: plain, or in a browser
    try:
        return _finish(ctx, capture, result)
    finally:
        result.close()


def _finish(ctx: CaptureContext, capture: Capture, result: FetchResult) -> Outcome:
    answered = [ex for ex in result.exchanges if ex.status is not None]
    if not answered:
        code = result.error_code or "unknown"
        if code in TRANSIENT_ERRORS and capture.attempts < ctx.settings.max_attempts:
            _requeue(ctx, capture.id, code, result.error or code)
            raise TransientCaptureError(capture.id, code, result.error or code, capture.attempts)
        _fail(ctx, capture.id, code, result.error or "the fetch failed for an unknown reason",
              chain=_chain(result))
        return Outcome(capture.id, FAILED, ran=True)

    fetched_at = _now()
    final = answered[-1]
    extraction = better_text(ctx.settings, result, _extract(ctx.settings, final))
    _apply_fetch(capture, result, final, fetched_at, extraction)
    revisit = _compare_with_previous(ctx, capture, final) if not result.error_code else None
    capture.browser = browser_facts(result)
    harvest = browser_harvest(result)    # a browser capture: every request the page made
    if harvest is not None:
        capture.requisites = harvest.summary or None
        revisit = capture.revisit_of = None   # its text is the rendered DOM's: written in full
    elif revisit is None:
        # images, stylesheets, scripts, fonts, icons: same fetcher and guard; never fails the page
        harvest = collect_requisites(ctx.fetcher, ctx.settings, result)
        capture.requisites = harvest.summary or None
    else:
        # The page is byte for byte the one stored before: its requisites are not fetched
        # again (that is what keeps an unchanged capture small); replay takes them from the
        # earlier captures, as it takes the page's body (docs/changes.md).
        harvest = Harvest()
        capture.requisites = {"not_fetched": "page unchanged", "see_capture": capture.revisit_of}
    document = extraction.document() if extraction and extraction.text else None
    records = CaptureRecords(capture_id=capture.id, fetch=result, revisit=revisit,
                             provenance=_warc_provenance(capture, revisit),
                             text=document,
                             text_metadata=extraction.metadata if extraction else None,
                             requisites=harvest.results, resources=browser_resources(result))
    try:
        written = ctx.writer.write_capture(records)   # returns only once the records are fsynced
    except OSError as exc:
        # The writer has cut the file back to before this capture: earlier records are intact.
        _fail(ctx, capture.id, "storage",
              f"the WARC records could not be written ({exc.strerror or exc}); nothing of this "
              f"capture was stored. Free space in {ctx.settings.open_warc_dir} (or fix the "
              "error) and submit it again")
        return Outcome(capture.id, FAILED, ran=True)
    finally:
        harvest.close()
    # before the catalogue says "stored": a capture page opened at once must find it in replay
    _index_for_replay(ctx, written, capture.id)
    state = FAILED if result.error_code else STORED
    with transaction(ctx.sessions) as session:
        _store(session, capture, result, written, state)
        search_index_for(session).index(session, capture.id)
        record_capture_events(session, capture, written.records, written.filename)
        deliveries = create_deliveries(session, ctx.settings, capture) if state == STORED else []
    _queue_deliveries(ctx, deliveries)
    return Outcome(capture.id, state, ran=True)


def _compare_with_previous(ctx: CaptureContext, capture: Capture, final) -> Revisit | None:
    """Mark the capture against the previous stored one of its URL (capture.change,
    previous_id) and ask the dedup policy whether the final response is a revisit."""
    capture.revisit_of = None
    with ctx.sessions() as session:
        previous = previous_capture(session, capture)
        capture.change = compare(capture, previous)
        capture.previous_id = previous.id if previous else None
        if previous is None:
            return None
        candidate = candidate_of(final)
        if candidate is None:
            return None
        try:
            original = original_response(ctx.settings, ctx.writer.storage, session, previous)
        except Exception:   # noqa: BLE001 - an unreadable earlier record: write this one in full
            log.exception("could not read the record capture %s would revisit; writing it in full",
                          previous.id)
            return None
    policy = ctx.dedup or dedup_policy(ctx.settings)
    chosen = policy.decide(candidate, original)
    if chosen is None:
        return None
    capture.revisit_of = chosen.capture_id
    return Revisit(chosen.record_id, chosen.target_uri, chosen.date, chosen.payload_digest)


def _warc_provenance(capture: Capture, revisit: Revisit | None) -> dict:
    """The provenance for the metadata record. A revisit's leaves out what is held elsewhere:
    the response headers (verbatim in the revisit record itself), how the text was extracted
    (the text and its metadata are records of the capture revisited; the sha256 stays), the
    requisite limits (settings) and fields without a value, so that an unchanged capture
    stays under 2 KB (docs/changes.md)."""
    document = capture_provenance(capture, include_storage=False)
    if revisit is not None:
        document["response"].pop("headers", None)
        document["text"] = {"sha256": document["text"]["sha256"]}
        if isinstance(document.get("requisites"), dict):
            document["requisites"].pop("limits", None)
        document = _without_nulls(document)
    return document


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _queue_deliveries(ctx: CaptureContext, delivery_ids: list[int]) -> None:
    if ctx.queue_delivery is None:
        return
    for delivery_id in delivery_ids:
        try:
            ctx.queue_delivery(delivery_id)
        except Exception as exc:  # noqa: BLE001 - broker down: say so on the delivery
            log.exception("could not queue webhook delivery %s", delivery_id)
            mark_delivery_unqueued(ctx.sessions, delivery_id, exc)


def _index_for_replay(ctx: CaptureContext, written, capture_id: int) -> None:
    """Make the capture replayable before it is shown as stored, unless it was made private
    or taken down meanwhile. Its records are already durable, so a failure here is logged,
    not fatal: `archiver reindex` rebuilds it."""
    try:
        if _hidden(ctx, capture_id):
            return
        lines = capture_lines(ctx.settings, ctx.writer.storage, written.filename, written.records)
        add_lines(ctx.settings, [written.filename], lines)
        # hidden just now? its restriction's replay sync may have run before these lines were in
        if _hidden(ctx, capture_id):
            remove_lines(ctx.settings, lines)
    except Exception:
        log.exception("capture stored but not added to the replay index; run `archiver reindex`")


_RESTRICTIONS = CaptureRestriction.__table__
_RESTRICTED = select(_RESTRICTIONS.c.capture_id).where(_RESTRICTIONS.c.capture_id == bindparam("capture_id"))


def _hidden(ctx: CaptureContext, capture_id: int) -> bool:
    # a plain connection, not a session: this runs twice a capture and loads no object
    with ctx.sessions.kw["bind"].connect() as connection:
        return connection.execute(_RESTRICTED, {"capture_id": capture_id}).first() is not None


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
    """UPDATE captures SET <STORE_FIELDS> WHERE id = :capture_id, the WARC file's id looked up
    by its name in the same statement; it returns that id and the rest of the row (the
    ledger's agent and the webhooks read it as it is now)."""
    def value(column):
        # None is SQL NULL, as the ORM left an unset JSON column, not the JSON text 'null'
        kind = JSON(none_as_null=True) if isinstance(column.type, JSON) else column.type
        return bindparam(f"set_{column.key}", type_=kind)
    warc_files = WarcFile.__table__
    warc_file_id = select(warc_files.c.id).where(warc_files.c.filename == bindparam("filename"))
    values = {name: value(_CAPTURES.c[name]) for name in STORE_FIELDS if name != "warc_file_id"}
    values["warc_file_id"] = warc_file_id.scalar_subquery()
    unwritten = [c for c in _CAPTURES.c if c.key not in STORE_FIELDS and c.key != "id"]
    return (update(_CAPTURES).where(_CAPTURES.c.id == bindparam("capture_id"))
            .values(values)
            .returning(_CAPTURES.c.warc_file_id, *unwritten))


_STORE = _store_statement()
_INSERT_RECORDS = insert(CaptureRecord.__table__)


def _store(session: Session, capture: Capture, result: FetchResult, written, state: str) -> None:
    """Write the capture's row and its records' rows with one UPDATE and one INSERT, and
    bring `capture` (detached) up to date with its row for the steps that follow."""
    stored_at = _now()
    values = {name: getattr(capture, name) for name in FETCH_FIELDS}
    values.update(stored_at=stored_at, finished_at=stored_at, state=state,
                  error_code=result.error_code, error=result.error,
                  site=site_of(capture.final_url or capture.requested_url), change=capture.change,
                  previous_id=capture.previous_id, revisit_of=capture.revisit_of)
    row = session.execute(_STORE, {"capture_id": capture.id, "filename": written.filename,
                                   **{f"set_{name}": value for name, value in values.items()}}).first()
    if row is None:
        raise NoResultFound(f"capture {capture.id} was deleted while it was being captured")
    if row.warc_file_id is None:      # rolled back with the transaction
        raise NoResultFound(f"the catalogue has no row for the WARC file {written.filename}")
    for name, value in (*values.items(), *row._mapping.items()):
        setattr(capture, name, value)
    records = _record_rows(capture.id, row.warc_file_id, written.records)
    if records:
        session.execute(_INSERT_RECORDS, records)     # one executemany


def _record_rows(capture_id: int, warc_file_id: int, locations) -> list[dict]:
    return [{"capture_id": capture_id, "warc_file_id": warc_file_id, "record_type": loc.record_type,
             "record_id": loc.record_id, "target_uri": loc.target_uri, "offset": loc.offset,
             "length": loc.length, "block_digest": loc.block_digest, "payload_digest": loc.payload_digest,
             "refers_to": loc.refers_to, "requisite": loc.requisite}
            for loc in locations]


def _apply_fetch(capture: Capture, result: FetchResult, final, fetched_at: datetime,
                 extraction) -> None:
    """Fill the capture's provenance fields from what the server answered."""
    capture.final_url = final.url
    capture.fetched_at = fetched_at
    capture.redirect_chain = _chain(result)
    capture.server_ip, capture.server_port = final.ip, final.port
    if final.tls:
        tls = final.tls
        capture.tls_version, capture.tls_cipher = tls.version, tls.cipher
        capture.cert_sha256, capture.cert_subject = tls.cert_sha256, tls.cert_subject
        capture.cert_issuer = tls.cert_issuer
        capture.cert_not_before, capture.cert_not_after = tls.cert_not_before, tls.cert_not_after
    capture.http_status = final.status
    capture.http_headers = [[k, v] for k, v in final.headers]
    capture.content_type = (final.content_type or "")[:255] or None
    capture.payload_size = final.payload_length
    capture.payload_sha256 = final.payload_sha256
    capture.truncated = final.truncated
    capture.software = software_versions()
    if extraction is not None:
        capture.title = extraction.title or None
        capture.text = extraction.text or None
        capture.text_reason = extraction.reason
        capture.text_metadata = extraction.metadata
        capture.extractor = extraction.extractor
        document = extraction.document() if extraction.text else ""
        capture.text_sha256 = hashlib.sha256(document.encode("utf-8")).hexdigest() if document else None


def _chain(result: FetchResult) -> list[dict]:
    return [
        {"url": ex.url, "status": ex.status, "location": ex.location, "ip": ex.ip,
         "port": ex.port, "started_at": ex.started_at.isoformat() if ex.started_at else None}
        for ex in result.exchanges
    ]


def _extract(settings: Settings, exchange):
    """Text of the final response; never raises (a failure is recorded as the reason)."""
    from archiver.extract import Extraction
    if exchange.payload_file is None:
        return None
    try:
        body = decode_content(exchange, settings.max_decoded_bytes)
    except DecodeError as exc:
        return Extraction.failed(f"could not decode the response body: {exc}")
    return extract(body, url=exchange.url, content_type=exchange.content_type)


def _requeue(ctx: CaptureContext, capture_id: int, code: str, message: str) -> None:
    with transaction(ctx.sessions) as session:
        row = session.get(Capture, capture_id)
        row.state = QUEUED
        row.sent_at = _now()          # the retry is the new message: the reconciler waits from here
        row.error_code = code
        row.error = f"{message} (will try again)"


def _fail(ctx: CaptureContext, capture_id: int, code: str, message: str,
          chain: list | None = None) -> None:
    with transaction(ctx.sessions) as session:
        row = session.get(Capture, capture_id)
        row.state = FAILED
        row.error_code = code
        row.error = message
        row.finished_at = _now()
        row.software = software_versions()
        if chain:
            row.redirect_chain = chain
        session.flush()
        record_failure(session, row)


def mark_failed_after_retries(ctx: CaptureContext, capture_id: int, code: str, message: str) -> None:
    """Called by the task when Celery will not retry any more."""
    _fail(ctx, capture_id, code, message)

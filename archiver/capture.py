"""Running captures: claim each, fetch, extract text, write WARC records; then store them
together (archiver/storing.py).

`run_capture` and `run_captures` are plain functions: the Celery tasks are thin shells
around them, and tests call them directly without a broker.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached, sessionmaker

from archiver.browser.pipeline import better_text, browser_facts, browser_harvest, browser_resources, fetch_page
from archiver.changes import PreviousCaptures, compare
from archiver.config import Settings
from archiver.db import transaction
from archiver.dedup import DedupPolicy, candidate_of, dedup_policy, original_response
from archiver.extract import extract
from archiver.fetch import DecodeError, FetchResult, decode_content, fetch
from archiver.models import FAILED, FETCHING, FINAL_STATES, QUEUED, STORED, Capture
from archiver.provenance import capture_provenance, software_versions
from archiver.requisites import Harvest, collect_requisites
from archiver.storing import StoreBatch, Written, fail, storage_failed
from archiver.warc import CaptureRecords, WarcFileWriter
from archiver.warc.records import Revisit

log = logging.getLogger(__name__)

# Captures claimed together keep their lease: once this share of ARCHIVER_TASK_TIME_LIMIT
# has passed since the claim, the ones still to run are claimed afresh.
LEASE_RENEWAL = 0.25

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
    transient: TransientCaptureError | None = None   # the fetch may pass: queued again


def _now() -> datetime:
    return datetime.now(timezone.utc)


_CAPTURES = Capture.__table__
# the attribute of each column of the table, in its order: a claimed row becomes a Capture
_ATTRIBUTES = tuple(Capture.__mapper__.get_property_by_column(column).key for column in _CAPTURES.c)


def _claim_statement():
    """The conditional UPDATE of claim_all(), built once; RETURNING spares a SELECT of the
    rows. A Core statement: its rows become Capture objects after the commit (_detached)."""
    def value(name: str, column):
        return bindparam(name, type_=column.type)
    columns = _CAPTURES.c
    stale = (columns.state == FETCHING) & (columns.started_at < value("stale", columns.started_at))
    return (update(_CAPTURES)
            .where(columns.id.in_(bindparam("capture_ids", expanding=True)))
            .where(or_(columns.state == QUEUED, stale))
            .values(state=FETCHING, started_at=value("now", columns.started_at),
                    attempts=columns.attempts + 1, task_id=value("task", columns.task_id),
                    worker_host=value("host", columns.worker_host))
            .returning(*columns))


_CLAIM = _claim_statement()


def _held_by(task_id: str | None):
    return (Capture.state == FETCHING) & Capture.task_id.is_not_distinct_from(task_id)


def _detached(row) -> Capture:
    """The Capture of a claimed row, detached, as a session would have loaded it (every
    column loaded, no change pending), for less than the ORM's loading costs."""
    capture = Capture.__mapper__.class_manager.new_instance()
    capture.__dict__.update(zip(_ATTRIBUTES, row))
    make_transient_to_detached(capture)
    return capture


def claim_all(ctx: CaptureContext, capture_ids: list[int], task_id: str | None,
              previous: PreviousCaptures | None = None) -> dict[int, Capture]:
    """Take the captures for this worker with one conditional UPDATE (which returns the rows).

    A capture is claimable when queued, or when it has been `fetching` for longer
    than the hard time limit (its worker died). Two workers cannot both win one.
    The transaction holds only the UPDATE (on SQLite, the writer lock: archiver/db.py):
    the rows become Capture objects after its commit, and `previous`, when given, is
    loaded then with the previous captures of the URLs claimed (a read, which needs no
    lock; archiver/changes.py says why its answers are as good as inside).
    """
    now = _now()
    stale = now - timedelta(seconds=ctx.settings.task_time_limit)
    with transaction(ctx.sessions) as session:
        rows = session.connection().execute(_CLAIM, {
            "capture_ids": list(capture_ids), "stale": stale, "now": now, "task": task_id,
            "host": ctx.settings.hostname}).all()
    configure_mappers()      # as a query would first: a new process may not have loaded any yet
    claimed = {capture.id: capture for capture in map(_detached, rows)}
    if previous is not None and claimed:
        with ctx.sessions.kw["bind"].connect() as connection:
            previous.load(connection, [capture.requested_url for capture in claimed.values()])
    return claimed


def claim(ctx: CaptureContext, capture_id: int, task_id: str | None) -> Capture | None:
    return claim_all(ctx, [capture_id], task_id).get(capture_id)


def _renew_lease(ctx: CaptureContext, capture_ids: list[int], task_id: str | None) -> None:
    """Start the lease of captures claimed together again before a slow batch reaches them."""
    with transaction(ctx.sessions) as session:
        session.execute(update(Capture).where(Capture.id.in_(capture_ids), _held_by(task_id))
                        .values(started_at=_now()).execution_options(synchronize_session=False))


def release(ctx: CaptureContext, capture_ids: list[int], task_id: str | None,
            refund_attempt: bool) -> list[int]:
    """Put captures this task holds back to queued, to be sent again as tasks of their own:
    those it never reached (`refund_attempt`: the attempt is not counted), or those a run of
    it that died held (the attempt counts: one of them may be what killed it). Returns the
    captures now queued."""
    values = {"state": QUEUED}
    if refund_attempt:
        values["attempts"] = Capture.attempts - 1
    with transaction(ctx.sessions) as session:
        session.execute(update(Capture).where(Capture.id.in_(capture_ids), _held_by(task_id))
                        .values(values).execution_options(synchronize_session=False))
        return sorted(session.scalars(select(Capture.id).where(Capture.id.in_(capture_ids),
                                                                 Capture.state == QUEUED)))


# built once: every batch task asks it first (workers/tasks.py), most often of nothing
_STILL_FETCHING = (select(Capture.id)
                   .where(Capture.id.in_(bindparam("capture_ids", expanding=True)),
                          Capture.state == FETCHING,
                          Capture.task_id.is_not_distinct_from(bindparam("task", type_=Capture.task_id.type))))


def still_fetching(ctx: CaptureContext, capture_ids: list[int], task_id: str | None) -> list[int]:
    """The captures this task holds as `fetching`: a run of it that died left them so."""
    with ctx.sessions() as session:
        return sorted(session.connection().execute(
            _STILL_FETCHING, {"capture_ids": list(capture_ids), "task": task_id}).scalars())


def run_capture(ctx: CaptureContext, capture_id: int, task_id: str | None = None) -> Outcome:
    """Run one capture and store it; a fetch that may pass raises TransientCaptureError
    (the capture is queued again)."""
    [outcome] = run_captures(ctx, [capture_id], task_id)
    if outcome.transient is not None:
        raise outcome.transient
    return outcome


def run_captures(ctx: CaptureContext, capture_ids: list[int], task_id: str | None = None,
                 started: list[int] | None = None) -> list[Outcome]:
    """Claim the captures, run them in turn and store them together (archiver/storing.py):
    one outcome per id. Each id is appended to `started` as its turn comes. If one raises,
    those already written are stored before the error goes on."""
    previous = PreviousCaptures()
    claimed = claim_all(ctx, capture_ids, task_id, previous)
    batch = StoreBatch(ctx)
    outcomes: dict[int, Outcome] = {}
    lease_from = time.monotonic()
    try:
        for n, capture_id in enumerate(capture_ids):
            if started is not None:
                started.append(capture_id)
            if time.monotonic() - lease_from > ctx.settings.task_time_limit * LEASE_RENEWAL:
                _renew_lease(ctx, capture_ids[n:], task_id)
                lease_from = time.monotonic()
            capture = claimed.get(capture_id)
            outcome = (_not_claimed(ctx, capture_id) if capture is None
                       else _run_claimed(ctx, capture, batch, previous))
            if outcome is not None:
                outcomes[capture_id] = outcome
    finally:
        batch.commit()
    for item in batch.stored:
        outcomes[item.capture.id] = Outcome(item.capture.id, item.state, ran=True)
    return [outcomes[i] for i in capture_ids if i in outcomes]


def _not_claimed(ctx: CaptureContext, capture_id: int) -> Outcome:
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


def _run_claimed(ctx: CaptureContext, capture: Capture, batch: StoreBatch,
                 previous: PreviousCaptures) -> Outcome | None:
    """Fetch one claimed capture and write its records; None once it waits in `batch`."""
    if capture.attempts > ctx.settings.max_attempts:
        fail(ctx, capture.id, "gave_up",
             f"gave up after {capture.attempts - 1} attempts that did not finish "
             "(the worker may have been killed while capturing this page)")
        return Outcome(capture.id, FAILED, ran=True)

    result = fetch_page(ctx.fetcher, ctx.settings, capture)   # by its mode: plain, or in a browser
    try:
        return _finish(ctx, capture, result, batch, previous)
    except TransientCaptureError as exc:
        return Outcome(capture.id, QUEUED, ran=True, transient=exc)
    finally:
        result.close()


def _finish(ctx: CaptureContext, capture: Capture, result: FetchResult,
            batch: StoreBatch, previous: PreviousCaptures) -> Outcome | None:
    answered = [ex for ex in result.exchanges if ex.status is not None]
    if not answered:
        code = result.error_code or "unknown"
        if code in TRANSIENT_ERRORS and capture.attempts < ctx.settings.max_attempts:
            _requeue(ctx, capture.id, code, result.error or code)
            raise TransientCaptureError(capture.id, code, result.error or code, capture.attempts)
        fail(ctx, capture.id, code, result.error or "the fetch failed for an unknown reason",
             chain=_chain(result))
        return Outcome(capture.id, FAILED, ran=True)

    fetched_at = _now()
    final = answered[-1]
    extraction = better_text(ctx.settings, result, _extract(ctx.settings, final))
    _apply_fetch(capture, result, final, fetched_at, extraction)
    if batch.holds_final_url(capture.final_url):
        batch.commit()              # this capture's previous one is waiting in the batch
    revisit = (_compare_with_previous(ctx, capture, final, previous, batch)
               if not result.error_code else None)
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
        # fsynced by the batch's commit, before anything names the records
        written = ctx.writer.write_capture(records, durable=False)
    except OSError as exc:
        # The writer has cut the file back to before this capture: earlier records are intact.
        storage_failed(ctx, capture.id, exc)
        return Outcome(capture.id, FAILED, ran=True)
    finally:
        harvest.close()
    batch.add(Written(capture, written, state=FAILED if result.error_code else STORED,
                      error_code=result.error_code, error=result.error))
    return None


def _compare_with_previous(ctx: CaptureContext, capture: Capture, final, known: PreviousCaptures,
                           batch: StoreBatch) -> Revisit | None:
    """Mark the capture against the previous stored one of its URL (capture.change,
    previous_id) and ask the dedup policy whether the final response is a revisit."""
    capture.revisit_of = None
    previous_id = known.previous_id(ctx.sessions, capture,
                                    {item.capture.final_url for item in batch.stored})
    if previous_id is None:
        capture.change, capture.previous_id = compare(capture, None), None
        return None
    with ctx.sessions() as session:
        previous = session.get(Capture, previous_id)      # None if deleted since
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
         "port": ex.port, "started_at": ex.started_at.isoformat() if ex.started_at else None,
         "connection": "reused" if ex.connection_reused else "new"}
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


def mark_failed_after_retries(ctx: CaptureContext, capture_id: int, code: str, message: str) -> None:
    """Called by the task when Celery will not retry any more."""
    fail(ctx, capture_id, code, message)

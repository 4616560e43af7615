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

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.db import transaction
from archiver.extract import extract
from archiver.fetch import DecodeError, FetchResult, decode_content, fetch
from archiver.models import FAILED, FETCHING, FINAL_STATES, QUEUED, STORED, Capture, CaptureRecord, WarcFile
from archiver.provenance import capture_provenance, software_versions
from archiver.replay import add_capture_to_index
from archiver.search import search_index_for
from archiver.sites import site_of
from archiver.warc import CaptureRecords, WarcFileWriter

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


@dataclass(frozen=True)
class Outcome:
    capture_id: int
    state: str                      # the capture's state after this run
    ran: bool                       # False when there was nothing to do (already final, or busy)
    retry_in: float | None = None   # another worker holds it: look again after this many seconds


def _now() -> datetime:
    return datetime.now(timezone.utc)


def claim(ctx: CaptureContext, capture_id: int, task_id: str | None) -> Capture | None:
    """Take the capture for this worker with one conditional UPDATE.

    A capture is claimable when queued, or when it has been `fetching` for longer
    than the hard time limit (its worker died). Two workers cannot both win.
    """
    now = _now()
    stale = now - timedelta(seconds=ctx.settings.task_time_limit)
    with transaction(ctx.sessions) as session:
        result = session.execute(
            update(Capture)
            .where(Capture.id == capture_id)
            .where(or_(Capture.state == QUEUED,
                       (Capture.state == FETCHING) & (Capture.started_at < stale)))
            .values(state=FETCHING, started_at=now, attempts=Capture.attempts + 1,
                    task_id=task_id, worker_host=ctx.settings.hostname)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            return None
        return session.get(Capture, capture_id)


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

    result = ctx.fetcher(capture.requested_url, ctx.settings)
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
    extraction = _extract(ctx.settings, final)
    _apply_fetch(capture, result, final, fetched_at, extraction)
    document = extraction.document() if extraction and extraction.text else None
    records = CaptureRecords(capture_id=capture.id, fetch=result,
                             provenance=capture_provenance(capture, include_storage=False),
                             text=document,
                             text_metadata=extraction.metadata if extraction else None)
    written = ctx.writer.write_capture(records)   # returns only once the records are fsynced
    state = FAILED if result.error_code else STORED
    with transaction(ctx.sessions) as session:
        warc = session.scalars(select(WarcFile).where(WarcFile.filename == written.filename)).one()
        row = session.get(Capture, capture.id)
        _copy_fetch_fields(capture, row)
        row.warc_file_id = warc.id
        row.stored_at = _now()
        row.finished_at = row.stored_at
        row.state = state
        row.error_code, row.error = result.error_code, result.error
        row.site = site_of(row.final_url or row.requested_url)
        for loc in written.records:
            session.add(CaptureRecord(
                capture_id=row.id, warc_file_id=warc.id, record_type=loc.record_type,
                record_id=loc.record_id, target_uri=loc.target_uri, offset=loc.offset,
                length=loc.length, block_digest=loc.block_digest,
                payload_digest=loc.payload_digest, refers_to=loc.refers_to))
        session.flush()
        search_index_for(session).index(session, row.id)
    _index_for_replay(ctx, written)
    return Outcome(capture.id, state, ran=True)


def _index_for_replay(ctx: CaptureContext, written) -> None:
    """Make the stored capture replayable at once. The capture is already durable and
    catalogued, so a failure here is logged, not fatal: `archiver reindex` rebuilds it."""
    try:
        add_capture_to_index(ctx.settings, ctx.writer.storage, written.filename, written.records)
    except Exception:
        log.exception("capture stored but not added to the replay index; run `archiver reindex`")


FETCH_FIELDS = (
    "final_url", "fetched_at", "redirect_chain", "server_ip", "server_port", "tls_version",
    "tls_cipher", "cert_sha256", "cert_subject", "cert_issuer", "cert_not_before",
    "cert_not_after", "http_status", "http_headers", "content_type", "payload_size",
    "payload_sha256", "truncated", "title", "text", "text_sha256", "text_reason",
    "text_metadata", "extractor", "software",
)


def _copy_fetch_fields(source: Capture, target: Capture) -> None:
    for name in FETCH_FIELDS:
        setattr(target, name, getattr(source, name))


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


def mark_failed_after_retries(ctx: CaptureContext, capture_id: int, code: str, message: str) -> None:
    """Called by the task when Celery will not retry any more."""
    _fail(ctx, capture_id, code, message)

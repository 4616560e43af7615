"""Celery tasks: thin shells over plain functions. They take ids, never objects."""
from __future__ import annotations

import random

# The replay index's cdxj-indexer takes about 0.4 s to import (pkg_resources, through
# pyamf): import it here, in the pool's parent before it forks, not in each pool
# process's first capture.
import cdxj_indexer.main  # noqa: F401
from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_shutdown, worker_shutdown

from archiver.capture import (TransientCaptureError, mark_failed_after_retries, release, run_capture, run_captures,
                              still_fetching)
from archiver.fetch import kept_connections
from archiver.importer.jobs import IMPORT_TIME_LIMIT, run_import_job
from archiver.reconcile import reconcile
from archiver.webhooks import deliver
from archiver.watches import dispatch
from workers.app import send_capture
from workers.context import close_context, worker_connections, worker_context

MAX_BACKOFF_SECONDS = 600


@shared_task(bind=True, name="archiver.capture", max_retries=None)
def capture(self, capture_id: int) -> str:
    ctx = worker_context()
    try:
        with kept_connections(worker_connections()):
            outcome = run_capture(ctx, capture_id, task_id=self.request.id)
    except TransientCaptureError as exc:
        raise self.retry(exc=exc, countdown=_backoff(ctx.settings, exc.attempts))
    except SoftTimeLimitExceeded:
        mark_failed_after_retries(
            ctx, capture_id, "time_limit",
            f"the capture did not finish within {ctx.settings.task_soft_time_limit} s "
            "(ARCHIVER_TASK_SOFT_TIME_LIMIT)")
        return "failed"
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


def _backoff(settings, attempts: int) -> float:
    """Exponential with jitter; the pipeline itself caps the attempts."""
    delay = min(settings.retry_backoff * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
    return delay * random.uniform(0.8, 1.2)


@shared_task(bind=True, name="archiver.capture_batch")
def capture_batch(self, capture_ids: list[int]) -> dict[str, int]:
    """Several captures run in turn and stored together (archiver/storing.py). One to be
    tried again later goes back to the queue as a capture task of its own."""
    ctx = worker_context()
    # Delivered again after a run of this task died (acks_late): what that run held goes
    # back to the queue one task each, so that the capture that killed it, if one did,
    # cannot take the others down with it again.
    orphans = still_fetching(ctx, capture_ids, self.request.id)
    if orphans:
        for capture_id in release(ctx, orphans, self.request.id, refund_attempt=False):
            send_capture(current_app, capture_id)
        capture_ids = [i for i in capture_ids if i not in orphans]
    started: list[int] = []
    try:
        # pages mostly come from a few sites: a connection for many pages, not one a page
        with kept_connections(worker_connections()):
            outcomes = run_captures(ctx, capture_ids, task_id=self.request.id, started=started)
    except BaseException as exc:
        # what was written is stored; the captures not reached yet go back to the queue
        current = started[-1:]
        unstarted = [i for i in capture_ids if i not in started]
        requeued = release(ctx, unstarted, self.request.id, refund_attempt=True) if unstarted else []
        for capture_id in requeued:
            send_capture(current_app, capture_id)
        if not isinstance(exc, SoftTimeLimitExceeded):
            raise                     # the one being fetched stays `fetching`: its lease frees it
        failed = still_fetching(ctx, current, self.request.id)
        for capture_id in failed:
            mark_failed_after_retries(
                ctx, capture_id, "time_limit",
                f"the batch of {len(capture_ids)} captures did not finish within "
                f"{ctx.settings.task_soft_time_limit} s each (ARCHIVER_TASK_SOFT_TIME_LIMIT)")
        return {"failed": len(failed), "requeued": len(requeued)}
    counts: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.transient is not None:
            send_capture(current_app, outcome.capture_id,
                         countdown=_backoff(ctx.settings, outcome.transient.attempts))
        elif outcome.retry_in is not None:
            send_capture(current_app, outcome.capture_id, countdown=outcome.retry_in)
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
    return counts


@shared_task(bind=True, name="archiver.deliver_webhook", max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt at a change alert; on failure, again after ARCHIVER_WEBHOOK_BACKOFF x 2^n
    (jittered) until ARCHIVER_WEBHOOK_MAX_ATTEMPTS, counted on the delivery's row."""
    ctx = worker_context()
    outcome = deliver(ctx.settings, ctx.sessions, delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in * random.uniform(0.8, 1.2))
    return outcome.state


@shared_task(name="archiver.dispatch_watches", ignore_result=True)
def dispatch_watches() -> int:
    """Run by beat every ARCHIVER_DISPATCH_INTERVAL seconds; safe to run twice at once."""
    ctx = worker_context()
    report = dispatch(ctx.sessions, ctx.settings,
                      enqueue=lambda capture_id: send_capture(current_app, capture_id))
    return len(report.queued)


@shared_task(name="archiver.reconcile", ignore_result=True)
def reconcile_captures() -> int:
    """Run by beat every ARCHIVER_RECONCILE_INTERVAL seconds; safe to run twice at once."""
    ctx = worker_context()
    report = reconcile(ctx.sessions, ctx.settings,
                       enqueue=lambda capture_id: send_capture(current_app, capture_id))
    return len(report.queued) + len(report.stalled)


@shared_task(name="archiver.audit", ignore_result=True, acks_late=False)
def audit_storage() -> str:
    """A fixity audit of every sealed WARC file (beat, every ARCHIVER_AUDIT_INTERVAL s)."""
    from archiver.fixity import run_audit
    ctx = worker_context()
    pace = ctx.settings.audit_pace_mbps
    report = run_audit(ctx.sessions, ctx.writer.storage, ctx.settings,
                       pace_bytes=pace * 1_000_000 if pace else None)
    return "pass" if report.ok else "fail"


@shared_task(name="archiver.sign_log_head", ignore_result=True)
def sign_log_head() -> int:
    """Sign the evidence log's head when it has grown since the last signed head; returns
    the new head's size (0 when nothing was signed)."""
    from archiver.ledger.keys import load_or_create_key
    from archiver.ledger.log import grown_since_head, sign_current_head
    ctx = worker_context()
    with ctx.sessions() as session:
        if not grown_since_head(session):
            return 0
    return sign_current_head(ctx.sessions, load_or_create_key(ctx.settings.data_dir)).size


@worker_process_shutdown.connect
def _seal_on_process_shutdown(**_kwargs) -> None:
    close_context()


@worker_shutdown.connect
def _seal_on_shutdown(**_kwargs) -> None:
    close_context()


@shared_task(name="archiver.import_warc", ignore_result=True, soft_time_limit=IMPORT_TIME_LIMIT,
             time_limit=IMPORT_TIME_LIMIT + 60)
def import_warc(job_id: int) -> str:
    """An uploaded WARC (archiver/importer/jobs.py); a redelivered message finds the job
    taken and does nothing."""
    ctx = worker_context()
    return run_import_job(ctx.settings, ctx.sessions, ctx.writer.storage, job_id)

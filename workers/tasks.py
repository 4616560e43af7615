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

from archiver.capture import TransientCaptureError, mark_failed_after_retries, run_capture
from archiver.importer.jobs import IMPORT_TIME_LIMIT, run_import_job
from archiver.reconcile import reconcile
from archiver.webhooks import deliver
from archiver.watches import dispatch
from workers.app import send_capture
from workers.context import close_context, worker_context

MAX_BACKOFF_SECONDS = 600


@shared_task(bind=True, name="archiver.capture", max_retries=None)
def capture(self, capture_id: int) -> str:
    ctx = worker_context()
    try:
        outcome = run_capture(ctx, capture_id, task_id=self.request.id)
    except TransientCaptureError as exc:
        # Back off exponentially with jitter; the pipeline itself caps the attempts.
        delay = min(ctx.settings.retry_backoff * 2 ** (exc.attempts - 1), MAX_BACKOFF_SECONDS)
        raise self.retry(exc=exc, countdown=delay * random.uniform(0.8, 1.2))
    except SoftTimeLimitExceeded:
        mark_failed_after_retries(
            ctx, capture_id, "time_limit",
            f"the capture did not finish within {ctx.settings.task_soft_time_limit} s "
            "(ARCHIVER_TASK_SOFT_TIME_LIMIT)")
        return "failed"
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


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

"""The Celery application, built from the same settings as the web app.

`celery -A workers.app worker` needs a module attribute, so this entry-point
module (and only this one) builds the app from the environment at import.
"""
from __future__ import annotations

from celery import Celery

from archiver.allocator import keep_to_this_process
from archiver.config import Settings, load_settings

TASK_MODULES = ["workers.tasks"]

# Which queue each task goes to. `capture`: fetching the web (captures, and webhook
# deliveries, which go out through the same address guard from the same machines).
# `maintenance`: short catalogue jobs that beat starts (the watch dispatcher, the
# reconciler, signing the evidence log's head) and fixity audits, which read every sealed
# file. They must not wait behind a capture backlog: beat's messages expire after one
# interval, so a dispatcher stuck behind 10,000 captures would never run.
CAPTURE_TASKS = ("archiver.capture", "archiver.capture_batch", "archiver.deliver_webhook")
MAINTENANCE_TASKS = ("archiver.dispatch_watches", "archiver.reconcile", "archiver.audit",
                     "archiver.sign_log_head", "archiver.import_warc")


def task_routes(settings: Settings) -> dict[str, dict[str, str]]:
    routes = {name: {"queue": settings.capture_queue} for name in CAPTURE_TASKS}
    routes.update({name: {"queue": settings.maintenance_queue} for name in MAINTENANCE_TASKS})
    return routes


def visibility_timeout(settings: Settings) -> int:
    return settings.task_time_limit * settings.capture_batch * (settings.worker_prefetch + 1) + 60


def create_celery(settings: Settings) -> Celery:
    app = Celery("archiver", broker=settings.broker_url, include=TASK_MODULES)
    transport_options: dict = {
        # Redis re-delivers unacknowledged tasks after this long, counted from when a worker
        # reserved the task: keep it above the hard limit of the longest task, a batch of
        # captures (send_capture_batch), for each task a process may hold (prefetch), the
        # one it waits behind included, with a margin of one batch more.
        "visibility_timeout": visibility_timeout(settings),
    }
    if settings.broker_url.startswith("filesystem"):
        queue_dir = settings.broker_dir / "queue"
        processed_dir = settings.broker_dir / "processed"
        control_dir = settings.broker_dir / "control"   # kombu's default is relative to the cwd
        for folder in (queue_dir, processed_dir, control_dir):
            folder.mkdir(parents=True, exist_ok=True)
        transport_options.update(data_folder_in=str(queue_dir), data_folder_out=str(queue_dir),
                                 processed_folder=str(processed_dir), store_processed=False,
                                 control_folder=str(control_dir))
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.capture_queue,
        task_routes=task_routes(settings),
        task_acks_late=True,                 # a task lost with its worker is delivered again
        task_reject_on_worker_lost=True,     # ... even when the pool child was killed; the
                                             # pipeline caps attempts so a crash loop ends
        task_ignore_result=True,             # the catalogue is the record of truth, not results
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        worker_prefetch_multiplier=settings.worker_prefetch,
        worker_concurrency=settings.worker_concurrency,
        task_serializer="json",
        accept_content=["json"],
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        # the watch dispatcher (archiver/watches/dispatcher.py); a run that waited longer than
        # one interval in the queue is dropped, so a backlog never turns into a burst
        beat_schedule={"dispatch-watches": {
            "task": "archiver.dispatch_watches", "schedule": settings.dispatch_interval,
            "options": {"expires": settings.dispatch_interval, "queue": settings.maintenance_queue}},
            # the reconciler (archiver/reconcile.py): captures whose message may be lost
            "reconcile-captures": {
                "task": "archiver.reconcile", "schedule": settings.reconcile_interval,
                "options": {"expires": settings.reconcile_interval, "queue": settings.maintenance_queue}},
            # fixity audits (archiver/fixity.py) and signed heads of the evidence log
            "audit-storage": {
                "task": "archiver.audit", "schedule": settings.audit_interval,
                "options": {"expires": settings.audit_interval, "queue": settings.maintenance_queue}},
            "sign-log-head": {
                "task": "archiver.sign_log_head", "schedule": 60.0,
                "options": {"expires": 60.0, "queue": settings.maintenance_queue}}},
        enable_utc=True,
    )
    app.archiver_settings = settings
    return app


def send_webhook(app: Celery, delivery_id: int) -> None:
    """Queue one webhook delivery by id, after the commit that created it."""
    settings: Settings = app.archiver_settings
    app.send_task("archiver.deliver_webhook", args=[delivery_id], queue=settings.capture_queue)


def send_capture(app: Celery, capture_id: int, countdown: float | None = None) -> None:
    """Queue one capture by id; the web app calls this only after its commit."""
    settings: Settings = app.archiver_settings
    app.send_task("archiver.capture", args=[capture_id], queue=settings.capture_queue,
                  countdown=countdown)


def send_capture_batch(app: Celery, capture_ids: list[int]) -> None:
    """Queue several captures as one task (archiver/storing.py); its time limits are the
    per-capture limits times the number of captures."""
    settings: Settings = app.archiver_settings
    app.send_task("archiver.capture_batch", args=[capture_ids], queue=settings.capture_queue,
                  soft_time_limit=settings.task_soft_time_limit * len(capture_ids),
                  time_limit=settings.task_time_limit * len(capture_ids))


keep_to_this_process()     # the worker's allocator is not for the programs it starts
celery_app = create_celery(load_settings())
app = celery_app

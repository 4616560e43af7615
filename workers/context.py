"""Per-process resources of a worker: settings, database sessions, storage, the WARC writer,
the connections kept open between capture tasks."""
from __future__ import annotations

import atexit
import threading

from celery import current_app

from archiver.capture import CaptureContext
from archiver.catalogue_hooks import warc_callbacks
from archiver.config import Settings, load_settings
from archiver.db import make_engine, make_session_factory
from archiver.fetch.connections import KeptConnections
from archiver.warc import WarcFileWriter, recover_open_files
from storage import open_storage

_lock = threading.Lock()
_context: CaptureContext | None = None
_connections: KeptConnections | None = None


def build_context(settings: Settings, queue_delivery=None) -> CaptureContext:
    """`queue_delivery(delivery_id)` queues a webhook delivery (workers: a Celery task);
    without it, change alerts stay pending in the catalogue."""
    sessions = make_session_factory(make_engine(settings.database_url, pool_size=settings.db_pool_size,
                                                 max_overflow=settings.db_max_overflow))
    storage = open_storage(settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url)
    on_open, on_seal = warc_callbacks(sessions, storage, settings.hostname)
    # Files a dead worker process left `.open` on this host are repaired and sealed first.
    recover_open_files(settings, storage, on_seal=on_seal)
    writer = WarcFileWriter(settings, storage, on_open=on_open, on_seal=on_seal)
    return CaptureContext(settings=settings, sessions=sessions, writer=writer,
                          queue_delivery=queue_delivery)


def worker_context() -> CaptureContext:
    """The context of this process, made on first use (after the pool forks)."""
    global _context
    with _lock:
        if _context is None:
            from workers.app import send_webhook
            app = current_app._get_current_object()
            settings = getattr(app, "archiver_settings", None) or load_settings()
            _context = build_context(
                settings, queue_delivery=lambda delivery_id: send_webhook(app, delivery_id))
            atexit.register(close_context)
        return _context


def worker_connections() -> KeptConnections:
    """The connections this process keeps between capture tasks (archiver/fetch/connections.py)."""
    global _connections
    with _lock:
        if _connections is None:
            _connections = KeptConnections()
        return _connections


def close_context() -> None:
    """Seal this process's WARC file so nothing is left `.open` at a clean shutdown."""
    global _context, _connections
    with _lock:
        if _context is not None:
            _context.writer.close()
            _context = None
        if _connections is not None:
            _connections.close()
            _connections = None

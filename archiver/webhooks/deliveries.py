"""Webhook deliveries: one row per alert and watch, sent by a task, retried with back-off.

    ids = create_deliveries(session, settings, capture)    # in the capture's transaction
    outcome = deliver(settings, sessions, delivery_id)     # one attempt; the task retries

A delivery is sent at least once: a receiver can drop repeats by `X-Archiver-Delivery`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.db import transaction
from archiver.models import CHANGED, Capture, Watch, WatchRun, WebhookDelivery
from archiver.webhooks.payload import EVENT, change_payload
from archiver.webhooks.signature import HEADER, sign
from archiver.webhooks.transport import post_json

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery_id: int
    state: str                      # after this call: pending, delivered, failed, missing
    ran: bool                       # False when there was nothing to send
    retry_in: float | None = None   # pending: try again after this many seconds


def _now() -> datetime:
    return datetime.now(timezone.utc)


def watches_of(session: Session, capture: Capture) -> list[Watch]:
    """The watches a capture was made for: Capture.watch_id, and any WatchRun naming it."""
    ids = set(session.scalars(select(WatchRun.watch_id).where(WatchRun.capture_id == capture.id)))
    if capture.watch_id:
        ids.add(capture.watch_id)
    if not ids:
        return []
    return list(session.scalars(select(Watch).where(Watch.id.in_(ids)).order_by(Watch.id)))


def create_deliveries(session: Session, settings: Settings, capture: Capture) -> list[int]:
    """Pending deliveries for a changed capture, one per watch of it that has a webhook."""
    if capture.change != CHANGED:
        return []
    previous = session.get(Capture, capture.previous_id) if capture.previous_id else None
    ids = []
    for watch in watches_of(session, capture):
        if not watch.webhook_url or not watch.webhook_secret:
            continue
        delivery = WebhookDelivery(watch_id=watch.id, capture_id=capture.id, url=watch.webhook_url,
                                   payload="", state=PENDING, attempts=0, created_at=_now(),
                                   attempt_log=[])
        session.add(delivery)
        session.flush()
        delivery.payload = change_payload(settings, delivery.id, watch, capture,
                                          previous).decode("utf-8")
        ids.append(delivery.id)
    return ids


def backoff(settings: Settings, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): doubling."""
    return min(settings.webhook_backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)


def deliver(settings: Settings, sessions: sessionmaker[Session], delivery_id: int) -> DeliveryOutcome:
    """One attempt at a pending delivery, logged on its row."""
    with transaction(sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return DeliveryOutcome(delivery_id, "missing", ran=False)
        if delivery.state != PENDING:
            return DeliveryOutcome(delivery_id, delivery.state, ran=False)
        watch = session.get(Watch, delivery.watch_id)
        secret = watch.webhook_secret if watch is not None else None
        delivery.attempts += 1
        attempt, url, body = delivery.attempts, delivery.url, delivery.payload.encode("utf-8")
    if not secret:
        result_status, result_error, permanent = None, "the watch has no webhook secret any more", True
    else:
        result = post_json(settings, url, body, {
            HEADER: sign(secret, body), "X-Archiver-Event": EVENT,
            "X-Archiver-Delivery": str(delivery_id)})
        result_status, result_error, permanent = result.status, result.error, result.permanent
    with transaction(sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return DeliveryOutcome(delivery_id, "missing", ran=True)
        now = _now()
        delivery.attempt_log = [*(delivery.attempt_log or []), {
            "attempt": attempt, "at": now.isoformat(), "status": result_status, "error": result_error}]
        delivery.last_status, delivery.last_error = result_status, result_error
        if result_error is None:
            delivery.state, delivery.delivered_at = DELIVERED, now
        elif permanent or attempt >= settings.webhook_max_attempts:
            delivery.state = FAILED
        state = delivery.state
    retry_in = backoff(settings, attempt) if state == PENDING else None
    return DeliveryOutcome(delivery_id, state, ran=True, retry_in=retry_in)


def mark_unqueued(sessions: sessionmaker[Session], delivery_id: int, exc: Exception) -> None:
    """The broker refused the task: the delivery fails with the reason, it is not lost silently."""
    with transaction(sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is not None and delivery.state == PENDING:
            delivery.state = FAILED
            delivery.last_error = f"broker: could not queue the delivery ({type(exc).__name__}: {exc})"


def delivery_json(delivery: WebhookDelivery) -> dict:
    return {"id": delivery.id, "watch_id": delivery.watch_id, "capture_id": delivery.capture_id,
            "url": delivery.url, "state": delivery.state, "attempts": delivery.attempts,
            "last_status": delivery.last_status, "last_error": delivery.last_error,
            "created_at": delivery.created_at.isoformat() if delivery.created_at else None,
            "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
            "attempt_log": delivery.attempt_log or [], "event": EVENT}

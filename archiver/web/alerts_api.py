"""JSON API for change alerts: the webhook deliveries of a watch, and one delivery."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from archiver.models import Watch, WebhookDelivery
from archiver.web import services
from archiver.webhooks import delivery_json

bp = Blueprint("alerts_api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100


def _not_found(what: str):
    response = jsonify({"error": {"status": 404, "detail": f"no such {what}"}})
    response.status_code = 404
    return response


@bp.get("/watches/<id:watch_id>/deliveries")
def watch_deliveries(watch_id: int):
    """Newest first; `?limit=` (at most 100)."""
    limit = request.args.get("limit", "20")
    if not limit.isdigit() or not 0 < int(limit) <= MAX_PER_PAGE:
        response = jsonify({"error": {"status": 400, "detail": f"limit must be 1 to {MAX_PER_PAGE}"}})
        response.status_code = 400
        return response
    with services().sessions() as session:
        if session.get(Watch, watch_id) is None:
            return _not_found("watch")
        rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.watch_id == watch_id)
                               .order_by(WebhookDelivery.id.desc()).limit(int(limit)))
        return jsonify({"watch_id": watch_id, "deliveries": [delivery_json(d) for d in rows]})


@bp.get("/deliveries/<id:delivery_id>")
def get_delivery(delivery_id: int):
    with services().sessions() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return _not_found("delivery")
        return jsonify({**delivery_json(delivery), "payload": delivery.payload})

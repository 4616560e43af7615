"""JSON API for watches: /api/v1/watches and /api/v1/watches/<id>."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from archiver.db import transaction
from archiver.models import Watch, WatchRun
from archiver.watches import WatchError, create_watch, delete_watch, update_watch, watches
from archiver.watches.service import runs
from archiver.web import row_or_404, services
from archiver.web.api import _error

bp = Blueprint("watches_api", __name__, url_prefix="/api/v1")


def _time(value):
    return value.isoformat() if value else None


def watch_json(watch: Watch) -> dict:
    return {
        "id": watch.id, "url": watch.url, "cron": watch.cron, "timezone": watch.timezone,
        "note": watch.note, "owner": watch.owner, "enabled": watch.enabled,
        "respect_robots": watch.respect_robots, "webhook_url": watch.webhook_url,
        "mode": watch.mode,      # null: the default mode (ARCHIVER_CAPTURE_MODE) at each run
        # null while paused or flagged: it will not run
        "next_run_at": _time(watch.next_run_at) if watch.enabled and not watch.flagged else None,
        "last_run_at": _time(watch.last_run_at), "last_result": watch.last_result,
        "last_capture_id": watch.last_capture_id, "failure_count": watch.failure_count,
        "flagged": watch.flagged, "flag_reason": watch.flag_reason,
        "created_at": _time(watch.created_at), "updated_at": _time(watch.updated_at),
        "links": {"self": url_for("watches_api.get_watch", watch_id=watch.id),
                  "page": url_for("watches_ui.watch_page", watch_id=watch.id)},
    }


def run_json(run: WatchRun) -> dict:
    return {"slot": _time(run.slot), "claimed_at": _time(run.claimed_at), "result": run.result,
            "detail": run.detail, "finished_at": _time(run.finished_at),
            "capture_id": run.capture_id,
            "capture": url_for("api.get_capture", capture_id=run.capture_id) if run.capture_id else None}


def _payload():
    if not request.is_json:
        return None, _error(415, "send JSON with Content-Type: application/json, e.g. "
                                 '{"url": "https://example.org/", "cron": "0 * * * *"}')
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return None, _error(400, 'the body is not a JSON object; send e.g. '
                                 '{"url": "https://example.org/", "cron": "0 * * * *"}')
    return payload, None


@bp.get("/watches")
def list_watches():
    with services().sessions() as session:
        return jsonify({"watches": [watch_json(w) for w in watches(session)]})


@bp.post("/watches")
def add_watch():
    payload, error = _payload()
    if error:
        return error
    try:
        with transaction(services().sessions) as session:
            watch = create_watch(session, payload)
            body = watch_json(watch)
            body["webhook_secret"] = watch.webhook_secret   # shown once, to verify signatures
    except WatchError as exc:
        return _error(400, str(exc), field=exc.field)
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = body["links"]["self"]
    return response


def _get(session, watch_id: int) -> Watch:
    return row_or_404(session, Watch, watch_id, "watch")


# One rule for all three methods, so an id out of range is a 404 for each (not a 405).
@bp.route("/watches/<id:watch_id>", methods=["GET", "PATCH", "DELETE"])
def get_watch(watch_id: int):
    if request.method == "PATCH":
        return edit_watch(watch_id)
    if request.method == "DELETE":
        return remove_watch(watch_id)
    with services().sessions() as session:
        watch = _get(session, watch_id)
        body = watch_json(watch)
        body["runs"] = [run_json(r) for r in runs(session, watch_id)]
    return jsonify(body)


def edit_watch(watch_id: int):
    payload, error = _payload()
    if error:
        return error
    try:
        with transaction(services().sessions) as session:
            watch = _get(session, watch_id)
            had_secret = watch.webhook_secret
            update_watch(session, watch, payload)
            body = watch_json(watch)
            if watch.webhook_secret != had_secret:
                body["webhook_secret"] = watch.webhook_secret
    except WatchError as exc:
        return _error(400, str(exc), field=exc.field)
    return jsonify(body)


def remove_watch(watch_id: int):
    with transaction(services().sessions) as session:
        delete_watch(session, _get(session, watch_id))
    return Response(status=204)

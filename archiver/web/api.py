"""JSON API, version 1."""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from archiver.accounts import visibility
from archiver.accounts.models import CaptureRestriction
from archiver.accounts.replay_sync import sync_replay
from archiver.accounts.restrictions import RestrictionError, lift, restrict
from archiver.artifacts import capture_warc_bytes
from archiver.browser.stored import resource_bytes, resource_location
from archiver.db import transaction
from archiver.export import NothingToPackage, PackageFile, check_packable, wacz_tempfile
from archiver.models import Capture, CaptureRecord
from archiver.provenance import capture_provenance
from archiver.submissions import SubmissionError, Submitter, submit_captures
from archiver.web import parse_ids, services
from archiver.web.auth import submission_limit, viewer
from archiver.web.downloads import log_download
from workers.app import send_capture, send_capture_batch

bp = Blueprint("api", __name__, url_prefix="/api/v1")

SUBMISSION_FIELDS = {"url", "urls", "note", "mode"}


def _error(status: int, detail: str, **extra):
    body = {"error": {"status": status, "detail": detail, **{k: v for k, v in extra.items() if v is not None}}}
    response = jsonify(body)
    response.status_code = status
    return response


def capture_summary(capture: Capture) -> dict:
    links = {
        "self": url_for("api.get_capture", capture_id=capture.id),
        "page": url_for("ui.capture_page", capture_id=capture.id),
        "provenance": url_for("api.get_provenance", capture_id=capture.id),
    }
    if capture.text:
        links["text"] = url_for("api.get_text", capture_id=capture.id)
    for kind, endpoint in (("screenshot", "api.get_screenshot"), ("dom", "api.get_dom")):
        if resource_location(capture, kind) is not None:        # a browser capture's
            links[kind] = url_for(endpoint, capture_id=capture.id)
    if capture.records:
        links["warc"] = url_for("api.get_warc", capture_id=capture.id)
        # its evidence (docs/provenance.md)
        links["verify"] = url_for("evidence_api.capture_verify", capture_id=capture.id)
        links["bundle"] = url_for("evidence_api.capture_bundle", capture_id=capture.id)
    links["prov"] = url_for("evidence_api.capture_prov", capture_id=capture.id)
    links["premis"] = url_for("evidence_api.capture_premis", capture_id=capture.id)
    return {
        "id": capture.id,
        "state": capture.state,
        "url": capture.requested_url,
        "final_url": capture.final_url,
        "http_status": capture.http_status,
        "title": capture.title,
        "error": None if not capture.error_code else {"code": capture.error_code,
                                                       "message": capture.error},
        "timings": capture_provenance(capture, include_storage=False)["timings"],
        "attempts": capture.attempts,
        "mode": capture.mode or "plain",
        # against the previous stored capture of its URL (docs/changes.md)
        "change": capture.change, "previous_id": capture.previous_id, "revisit_of": capture.revisit_of,
        "links": links,
    }


# url_for once, around an id no capture has; each capture's link is that with its own id
# (url_for per capture was a twentieth of a 200-URL submission)
_TEMPLATE_ID = 987654321987654321


def capture_link_maker():
    """capture id -> url_for("api.get_capture", capture_id=id), for many ids at once."""
    before, _, after = url_for("api.get_capture", capture_id=_TEMPLATE_ID).rpartition(str(_TEMPLATE_ID))
    return lambda capture_id: f"{before}{capture_id}{after}"


@bp.post("/captures")
def create_captures():
    if not request.is_json:
        return _error(415, "send JSON with Content-Type: application/json, e.g. "
                           '{"url": "https://example.org/"}')
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _error(400, "the body is not a JSON object; send e.g. {\"url\": \"https://example.org/\"}")
    unknown = sorted(set(payload) - SUBMISSION_FIELDS)
    if unknown:
        return _error(400, f"unknown field(s): {', '.join(unknown)}; accepted: url, urls, note, mode")
    if ("url" in payload) == ("urls" in payload):
        return _error(400, 'send exactly one of "url" (a string) or "urls" (a list of strings)',
                      field="url")
    if "url" in payload:
        if not isinstance(payload["url"], str):
            return _error(400, '"url" must be a string', field="url")
        urls = [payload["url"]]
    else:
        if not isinstance(payload["urls"], list):
            return _error(400, '"urls" must be a list of strings', field="urls")
        urls = payload["urls"]
    svc = services()
    who = viewer()
    submission_limit(who)
    try:
        captures = submit_captures(
            svc.sessions, urls, payload.get("note"),
            Submitter(source="api", submitted_by=who.submitted_by, remote_addr=request.remote_addr),
            enqueue=lambda capture_id: send_capture(svc.celery, capture_id),
            enqueue_batch=lambda ids: send_capture_batch(svc.celery, ids),
            batch_size=svc.settings.capture_batch,
            max_urls=svc.settings.max_urls_per_submission,
            mode=svc.settings.capture_mode if payload.get("mode") is None else payload["mode"])
    except SubmissionError as exc:
        return _error(400, str(exc), field=exc.field, index=exc.index)
    ids = [c.id for c in captures]
    location = (url_for("api.get_capture", capture_id=ids[0]) if len(ids) == 1
                else url_for("api.list_captures", ids=",".join(map(str, ids))))
    capture_link = capture_link_maker()
    body = {"ids": ids, "captures": [
        {"id": c.id, "url": c.requested_url, "state": c.state,
         "links": {"self": capture_link(c.id)}} for c in captures]}
    status = 503 if any(c.state == "failed" for c in captures) else 202
    if status == 503:
        body["error"] = {"status": 503, "detail": "the task broker could not be reached; "
                                                  "see each capture's error"}
    response = jsonify(body)
    response.status_code = status
    response.headers["Location"] = location
    return response


def _load(capture_id: int) -> Capture:
    """The capture, if the viewer may see it: a hidden one is a 404, as if it did not exist."""
    with services().sessions() as session:
        capture = session.scalars(
            visibility.visible(select(Capture), viewer()).where(Capture.id == capture_id).options(
                selectinload(Capture.records).selectinload(CaptureRecord.warc_file),
                selectinload(Capture.warc_file),
                selectinload(Capture.revisited).selectinload(Capture.records)
                .selectinload(CaptureRecord.warc_file))).first()
        if capture is None:
            abort(404, description=f"no capture with id {capture_id}")
        return capture


@bp.get("/captures")
def list_captures():
    ids = None
    if "ids" in request.args:
        ids = parse_ids(request.args["ids"])
        if ids is None:
            return _error(400, "ids must be a comma-separated list of capture ids, e.g. ?ids=1,2,3")
    with services().sessions() as session:
        query = visibility.visible(select(Capture), viewer()).options(selectinload(Capture.records))
        if ids is not None:
            query = query.where(Capture.id.in_(ids)).order_by(Capture.id)
        else:
            query = query.order_by(Capture.id.desc()).limit(50)
        captures = session.scalars(query).all()
        return jsonify({"captures": [capture_summary(c) for c in captures]})


@bp.get("/captures/<id:capture_id>")
def get_capture(capture_id: int):
    capture = _load(capture_id)
    body = capture_summary(capture)
    body["provenance"] = capture_provenance(capture)
    body["requisites"] = body["provenance"]["requisites"]    # fetched and skipped, with reasons
    return jsonify(body)


@bp.get("/captures/<id:capture_id>/provenance")
def get_provenance(capture_id: int):
    response = jsonify(capture_provenance(_load(capture_id)))
    response.headers["Content-Disposition"] = f'attachment; filename="capture-{capture_id}-provenance.json"'
    return response


@bp.get("/captures/<id:capture_id>/text")
def get_text(capture_id: int):
    capture = _load(capture_id)
    if not capture.text:
        abort(404, description=f"capture {capture_id} has no text"
                               + (f": {capture.text_reason}" if capture.text_reason else ""))
    document = f"{capture.title}\n\n{capture.text}" if capture.title else capture.text
    return Response(document + "\n", mimetype="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="capture-{capture_id}.txt"'})


@bp.get("/captures/<id:capture_id>/screenshot.png")
def get_screenshot(capture_id: int):
    """A browser capture's full-page screenshot, from its WARC resource record."""
    return _browser_resource(capture_id, "screenshot", "image/png", "inline")


@bp.get("/captures/<id:capture_id>/dom")
def get_dom(capture_id: int):
    """A browser capture's rendered DOM, as plain text: served as HTML from the app's origin,
    its scripts would run there (replay, on its own origin, shows the page)."""
    return _browser_resource(capture_id, "dom", "text/plain; charset=utf-8", "attachment")


def _browser_resource(capture_id: int, kind: str, mimetype: str, disposition: str):
    capture = _load(capture_id)
    svc = services()
    data = resource_bytes(svc.settings, svc.storage, capture, kind)
    if data is None:
        abort(404, description=f"capture {capture_id} has no {kind} record (only browser-mode "
                               "captures of HTML pages have one)")
    extension = "png" if kind == "screenshot" else "html.txt"
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'{disposition}; filename="capture-{capture_id}-{kind}.{extension}"',
        "X-Content-Type-Options": "nosniff"})


@bp.get("/captures/<id:capture_id>/warc")
def get_warc(capture_id: int):
    capture = _load(capture_id)
    if not capture.records:
        abort(404, description=f"capture {capture_id} has no WARC records (state: {capture.state})")
    svc = services()
    data = capture_warc_bytes(svc.settings, svc.storage, capture.records)
    log_download([capture_id], "warc", f"capture-{capture_id}.warc.gz")
    return Response(data, mimetype="application/warc", headers={
        "Content-Disposition": f'attachment; filename="capture-{capture_id}.warc.gz"'})


def wacz_response(package: PackageFile, filename: str) -> Response:
    """A finished WACZ as an attachment, with Content-Length (WACZ 1.2 asks for it) and
    byte ranges, so a replay tool can read it in place; the temp file closes with the response."""
    response = send_file(package.file, mimetype="application/wacz", as_attachment=True,
                         download_name=filename, conditional=False)
    response.content_length = package.size
    try:
        return response.make_conditional(request, accept_ranges=True, complete_length=package.size)
    except RequestedRangeNotSatisfiable:
        package.file.close()
        raise


def load_packable(capture_id: int) -> Capture:
    """The capture, when the viewer may see it and it has records to package (else 404, 409)."""
    capture = _load(capture_id)
    try:
        check_packable(capture)
    except NothingToPackage as exc:
        abort(409, description=str(exc))
    return capture


@bp.get("/captures/<id:capture_id>/wacz")
def get_wacz(capture_id: int):
    capture = load_packable(capture_id)
    svc = services()
    url = capture.final_url or capture.requested_url
    package = wacz_tempfile([capture], svc.settings, svc.storage,
                            title=f"Capture {capture_id}: {capture.title or url}",
                            description=f"Capture {capture_id} of {url} made by archiver, "
                                        "with its provenance and extracted text.")
    log_download([capture_id], "wacz", f"capture-{capture_id}.wacz")
    return wacz_response(package, f"capture-{capture_id}.wacz")


RESTRICTION_FIELDS = {"kind", "reason"}


@bp.route("/captures/<id:capture_id>/restriction", methods=["GET", "PUT", "DELETE"])
def restriction(capture_id: int):
    """GET: whether the capture is hidden. PUT {"kind": "private"|"taken_down", "reason"}: hide it.
    DELETE (optional {"reason"}): make it public again. Each change is an evidence-log event."""
    who = viewer()
    payload = {}
    if request.method != "GET" and (request.data or request.method == "PUT"):
        payload = request.get_json(silent=True) if request.is_json else None
        if not isinstance(payload, dict) or set(payload) - RESTRICTION_FIELDS:
            return _error(400, 'send JSON {"kind": "private" or "taken_down", "reason": "why"}')
    with transaction(services().sessions) as session:
        capture, current = visibility.capture_and_restriction(session, who, capture_id)
        if capture is None:
            abort(404, description=f"no capture with id {capture_id}")
        if request.method == "GET":
            return jsonify(restriction_json(capture_id, current))
        kind = payload.get("kind") if request.method == "PUT" else None
        refused = visibility.may_restrict(who, capture, kind, current)
        if refused:
            return _error(403, refused)
        try:
            if request.method == "PUT":
                current = restrict(session, capture, kind, payload.get("reason"), who)
            else:
                lift(session, capture, payload.get("reason") or "", who)
                current = None
        except RestrictionError as exc:
            return _error(400, str(exc))
        body = restriction_json(capture_id, current)
    svc = services()
    sync_replay(svc.settings, svc.sessions, svc.storage, capture_id)    # after the commit
    return jsonify(body)


def restriction_json(capture_id: int, row: CaptureRestriction | None) -> dict:
    if row is None:
        return {"capture_id": capture_id, "visibility": "public"}
    return {"capture_id": capture_id, "visibility": row.kind, "reason": row.reason, "owner": row.owner,
            "set_by": row.set_by, "set_at": row.set_at.isoformat()}

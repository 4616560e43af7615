"""JSON API for researchers: search, the history of a URL, the diff of two captures."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, jsonify, request, url_for

from archiver.accounts import visibility
from archiver.export import (NothingToPackage, TooManyMatches, load_captures, matching_capture_ids,
                             wacz_tempfile)
from archiver.search import QueryError, query_from_params
from archiver.web import services
from archiver.web.api import wacz_response
from archiver.web.auth import viewer
from archiver.web.downloads import log_download
from archiver.web.research import compare, history_of, hit_json, run_search

bp = Blueprint("research_api", __name__, url_prefix="/api/v1")


@bp.get("/search")
def search():
    try:
        page = run_search(request.args)
    except QueryError as exc:
        abort(400, description=str(exc))
    q = page.query
    return jsonify({
        "query": {"q": q.text, "site": q.site, "since": q.since.isoformat() if q.since else None,
                  "until": q.until.isoformat() if q.until else None, "status": q.status,
                  "type": q.content_type, "sort": q.sort, "page": q.page, "per_page": q.per_page},
        "total": page.total, "total_exact": page.total_exact, "pages": page.pages,
        "hits": [hit_json(h) for h in page.hits]})


@bp.get("/search.wacz")
def search_wacz():
    """Every capture the search matches (page and per_page are ignored), up to
    MAX_SEARCH_CAPTURES; more is a 400 that says to narrow the search."""
    try:
        query = query_from_params(request.args)
    except QueryError as exc:
        abort(400, description=str(exc))
    svc = services()
    with svc.sessions() as session:
        try:
            ids = matching_capture_ids(session, query)
        except TooManyMatches as exc:
            abort(400, description=str(exc))
        shown = visibility.visible_ids(session, viewer(), ids)
        captures = load_captures(session, [i for i in ids if i in shown])
    if not captures:
        abort(404, description="the search matches no captures: there is nothing to package")
    asked = ", ".join(f"{k}={v}" for k, v in request.args.items(multi=True)
                      if k not in ("page", "per_page") and v)
    now = datetime.now(timezone.utc)
    try:
        package = wacz_tempfile(captures, svc.settings, svc.storage,
                                title=f"Search: {query.text}" if query.text else "Search result",
                                description=f"The {len(captures)} captures matching the search "
                                            f"({asked or 'no filters'}) on {now:%Y-%m-%d %H:%M:%S} "
                                            "UTC, with their provenance and extracted text.")
    except NothingToPackage as exc:
        abort(409, description=str(exc))
    log_download([c.id for c in captures], "wacz", f"search-{now:%Y%m%dT%H%M%SZ}.wacz")
    return wacz_response(package, f"search-{now:%Y%m%dT%H%M%SZ}.wacz")


@bp.get("/history")
def history():
    url, entries, days = history_of(request.args.get("url", ""))
    return jsonify({
        "url": url,
        "captures": [{
            "id": e.capture.id, "state": e.capture.state,
            "captured_at": e.capture.fetched_at.isoformat() if e.capture.fetched_at else None,
            "http_status": e.capture.http_status, "change": e.change, "previous_id": e.previous_id,
            "links": {"self": url_for("api.get_capture", capture_id=e.capture.id),
                      **({"diff": url_for("research_api.diff", from_id=e.previous_id, to_id=e.capture.id)}
                         if e.previous_id else {})}} for e in entries],
        "days": [{"day": d.day.isoformat(), "count": d.count, "changed": d.changed} for d in days]})


@bp.get("/captures/<id:from_id>/diff/<id:to_id>")
def diff(from_id: int, to_id: int):
    old, new, text_diff = compare(from_id, to_id)
    body = text_diff.to_json()
    body["from"] = {"id": old.id, "url": old.final_url or old.requested_url,
                    "captured_at": old.fetched_at.isoformat() if old.fetched_at else None}
    body["to"] = {"id": new.id, "url": new.final_url or new.requested_url,
                  "captured_at": new.fetched_at.isoformat() if new.fetched_at else None}
    return jsonify(body)

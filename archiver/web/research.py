"""Finding and comparing captures: what the research pages and the research API share."""
from __future__ import annotations

from flask import abort, url_for

from archiver.accounts import visibility
from archiver.diff import TextDiff, diff_texts
from archiver.history import captures_per_day, url_history
from archiver.models import Capture
from archiver.search import SearchPage, query_from_params, search_index_for
from archiver.urls import InvalidURL, normalize_submitted_url
from archiver.web import services
from archiver.web.auth import viewer


def run_search(params) -> SearchPage:
    """Raises QueryError for bad parameters."""
    query = query_from_params(params)
    with services().sessions() as session:
        page = search_index_for(session).search(session, query)
        # hidden captures are dropped from the hits (the total may still count them: docs/accounts.md)
        shown = visibility.visible_ids(session, viewer(), [h.capture_id for h in page.hits])
    page.hits = [h for h in page.hits if h.capture_id in shown]
    return page


def history_of(raw_url: str):
    try:
        url = normalize_submitted_url(raw_url)
    except InvalidURL as exc:
        abort(400, description=f"url parameter: {exc}")
    with services().sessions() as session:
        entries = url_history(session, url)
        shown = visibility.visible_ids(session, viewer(), [e.capture.id for e in entries])
    entries = [e for e in entries if e.capture.id in shown]
    return url, entries, captures_per_day(entries)


def compare(from_id: int, to_id: int) -> tuple[Capture, Capture, TextDiff]:
    with services().sessions() as session:
        old, new = session.get(Capture, from_id), session.get(Capture, to_id)
        shown = visibility.visible_ids(session, viewer(), [from_id, to_id])
    old, new = (old if from_id in shown else None), (new if to_id in shown else None)
    for capture_id, capture in ((from_id, old), (to_id, new)):
        if capture is None:
            abort(404, description=f"no capture with id {capture_id}")
        if capture.state != "stored":
            abort(409, description=f"capture {capture_id} is {capture.state}: only stored captures have text to compare")
    return old, new, diff_texts(_document(old), _document(new))


def _document(capture: Capture) -> str:
    return f"{capture.title}\n\n{capture.text or ''}" if capture.title else (capture.text or "")


def hit_json(hit) -> dict:
    return {"id": hit.capture_id, "url": hit.url, "title": hit.title,
            "captured_at": hit.captured_at.isoformat() if hit.captured_at else None,
            "http_status": hit.http_status, "content_type": hit.content_type,
            "score": hit.score, "snippet": hit.snippet_text, "change": hit.change,
            "links": {"self": url_for("api.get_capture", capture_id=hit.capture_id),
                      "page": url_for("ui.capture_page", capture_id=hit.capture_id)}}

"""Atom feeds of changes: `/feeds/changes.atom` (every changed capture) and
`/watches/<id>/changes.atom` (the changed captures of one watch)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort

from archiver.accounts import visibility
from archiver.feeds import CONTENT_TYPE, atom_feed, changed_captures
from archiver.models import Watch
from archiver.web import services
from archiver.web.auth import viewer

bp = Blueprint("feeds", __name__)


def _shown(session, captures):
    """The changed captures the viewer may see: hidden ones are left out of every feed."""
    ids = visibility.visible_ids(session, viewer(), [c.id for c in captures])
    return [c for c in captures if c.id in ids]


def _atom(body: bytes) -> Response:
    return Response(body, content_type=CONTENT_TYPE)


@bp.get("/feeds/changes.atom")
def archive_changes():
    svc = services()
    base = svc.settings.public_url
    with svc.sessions() as session:
        return _atom(atom_feed(session, svc.settings, f"{base}/feeds/changes.atom",
                               "Changes in the archive", f"{base}/", _shown(session, changed_captures(session))))


@bp.get("/watches/<id:watch_id>/changes.atom")
def watch_changes(watch_id: int):
    svc = services()
    base = svc.settings.public_url
    with svc.sessions() as session:
        watch = session.get(Watch, watch_id)
        if watch is None:
            abort(404)
        return _atom(atom_feed(session, svc.settings, f"{base}/watches/{watch.id}/changes.atom",
                               f"Changes of {watch.url}", f"{base}/history?url={quote(watch.url, safe='')}",
                               _shown(session, changed_captures(session, watch))))

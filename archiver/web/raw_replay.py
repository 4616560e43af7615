"""`/raw/<timestamp>/<url>`: a capture's archived response, as archived, from the catalogue.

The same answer as pywb's raw mode (`/web/<timestamp>id_/<url>` on the replay origin), read
by byte range with no CDXJ index (archiver/replay/raw.py); served from the app, behind its
role table and visibility rules, with archived bytes never allowed to run (docs/security.md).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, g, request

from archiver.replay.raw import RawReplayError, find_raw, parse_timestamp
from storage import StorageKeyNotFound
from archiver.web import services

bp = Blueprint("raw_replay", __name__)
PREFIX = "/raw/"


def archived_url(timestamp: str) -> str:
    """The archived URL exactly as sent: the rest of the request target after
    `/raw/<timestamp>/`, query included and percent-escapes untouched (the router decodes
    them, and merges the `//` of `http://`)."""
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if target and target.startswith(f"{PREFIX}{timestamp}/"):
        return target[len(PREFIX) + len(timestamp) + 1:]
    url = request.path[len(PREFIX) + len(timestamp) + 1:]
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


@bp.route("/raw/<timestamp>/<path:url>", methods=["GET"], merge_slashes=False)
def raw_memento(timestamp: str, url: str):
    stamp = parse_timestamp(timestamp)
    if stamp is None:
        abort(400, description=f"{timestamp!r} is not a timestamp: give 4 to 14 digits, "
                               "YYYYMMDDhhmmss (UTC), e.g. /raw/20261201120000/http://example.org/")
    target = archived_url(timestamp)
    if not target.lower().startswith(("http://", "https://")):
        abort(404, description="give the archived address in full after the timestamp, "
                               "e.g. /raw/20261201120000/http://example.org/")
    app = services()
    try:
        with app.sessions() as session:
            memento = find_raw(app.settings, app.storage, session, target, stamp,
                               g.viewer, request.headers.get("Accept-Encoding", ""))
    except (RawReplayError, StorageKeyNotFound) as exc:
        # the catalogue points at bytes that are not there or not what it says
        current_app.logger.error("raw replay of %s at %s: %s", target, stamp, exc)
        abort(500, description=f"the archived record cannot be read: {exc}; `archiver audit` "
                               "compares every stored WARC file with the catalogue")
    if memento is None:
        abort(404, description=f"the archive has no capture of {target} that you may see; "
                               "its TimeMap on the replay origin lists the captures there are")
    if memento.redirect_to:
        # as pywb does for a timestamp that is not a capture's: off to the closest one (and
        # to the URL as captured, when it was found under another spelling of it)
        response = Response(status=302)
        response.headers["Location"] = f"{request.host_url.rstrip('/')}{PREFIX}{memento.redirect_to}/{memento.url}"
        response.headers["Link"] = f'<{memento.url}>; rel="original"'
        return response
    response = Response(memento.body, status=memento.status)
    response.headers.clear()          # no default Content-Type: the archived headers, exactly
    for name, value in memento.headers:
        response.headers.add(name, value)
    return response

"""Headers every response carries, and JSON errors for the API."""
from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

# frame-src: only the replay origin, whose pages the capture page shows in a sandboxed iframe
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-src {replay_origin}; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def init_app(app: Flask) -> None:
    from archiver.replay.urls import capture_replay_links, replay_origin
    settings = app.extensions["archiver"].settings
    app.config["ARCHIVER_CSP"] = CSP.format(replay_origin=replay_origin(settings))
    # the iframe's address and the CSP that allows it come from the same setting
    app.jinja_env.globals["replay_links"] = partial(capture_replay_links, settings)
    app.before_request(_refuse_cross_origin_writes)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refuse_cross_origin_writes():
    """A browser may change something here only from the app's own pages.

    Anything else a browser sends is refused: a replayed page (the replay origin is another
    port of the same host, so "same-site"; a sandboxed document is origin `null`), or any
    other web site posting our form or a "simple" request at the API. Browsers say where a
    request comes from in `Sec-Fetch-Site` (and `Origin`); clients that are not browsers
    (curl, scripts, our CLI) send neither and carry no ambient authority, so they pass.
    """
    if request.method not in UNSAFE_METHODS:
        return None
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        allowed = fetch_site in ("same-origin", "none")    # "none": the user's own action
    else:
        origin = request.headers.get("Origin")
        allowed = origin is None or (origin != "null" and urlsplit(origin).netloc == request.host)
    if not allowed:
        abort(403, description="cross-origin request refused: this app accepts changes from its "
                               "own pages and from clients that are not browsers (docs/replay.md)")
    return None


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", current_app.config["ARCHIVER_CSP"])
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def _http_error(exc: HTTPException):
    if request.path.startswith("/api/"):
        body = {"error": {"status": exc.code, "title": exc.name, "detail": exc.description}}
        response = jsonify(body)
        response.status_code = exc.code or 500
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        if getattr(exc, "retry_after", None):          # 429 from archiver.web.auth.rate_limit
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return exc

"""Headers every response carries, and JSON errors for the API."""
from __future__ import annotations

from functools import partial

from flask import Flask, current_app, jsonify, request
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
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)


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
        return response
    return exc

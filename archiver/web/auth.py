"""Who is asking, and may they: the one `before_request` hook that checks every endpoint
against the role table, CSRF tokens for forms, login and logout, the account page, and
the rate limits (docs/accounts.md)."""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, abort, current_app, g, jsonify, redirect, render_template,
                   request, session, url_for)
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

from archiver.accounts import service
from archiver.accounts.models import User
from archiver.accounts.ratelimit import LimiterUnavailable, open_limiter
from archiver.accounts.roles import Viewer, anonymous_viewer, permission_for
from archiver.accounts.secret import session_secret
from archiver.db import transaction
from archiver.web import services

bp = Blueprint("auth", __name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
WINDOW = 60.0      # rate limits count per minute


def init_app(app: Flask) -> None:
    settings = services(app).settings
    app.config.update(
        SECRET_KEY=session_secret(settings.secret_key, settings.data_dir),
        SESSION_COOKIE_NAME="archiver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_DOMAIN=None,        # host-only: no Domain attribute
        SESSION_COOKIE_SECURE=urlsplit(settings.public_url).scheme == "https",
    )
    app.extensions["archiver_limiter"] = open_limiter(settings)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["viewer"] = lambda: g.get("viewer")
    app.before_request(authorize)
    app.register_blueprint(bp)


def viewer() -> Viewer:
    return g.viewer


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _api() -> bool:
    return request.path.startswith("/api/")


def _unauthorized(detail: str):
    if _api():
        response = jsonify({"error": {"status": 401, "title": "Unauthorized", "detail": detail}})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="archiver"'
        return response
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), code=303)
    abort(401, description=detail)


def _identify() -> Viewer | None:
    """The viewer, from a bearer token or the session; None for a bad token."""
    settings = services().settings
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with transaction(services().sessions) as db:
            return service.viewer_for_token(db, token.strip())
    uid = session.get("uid")
    if uid is not None:
        with services().sessions() as db:
            user = db.get(User, uid)
            if (user is not None and user.active
                    and hmac.compare_digest(session.get("stamp", ""), service.session_stamp(user))):
                return service.viewer_for_user(user)
        session.pop("uid", None)       # the account is gone, disabled, or its password changed
        session.pop("stamp", None)
    return anonymous_viewer(settings.anonymous_role)


def authorize():
    """Before every request: identify, check the role table, then CSRF for form posts."""
    found = _identify()
    if found is None:
        g.viewer = anonymous_viewer("none")
        return _unauthorized("the Authorization header must be 'Bearer <token>' with a valid, "
                             "unrevoked API token (archiver token create)")
    g.viewer = found
    if request.endpoint is None:          # 404 or 405: the router answers
        return None
    need = permission_for(request.endpoint, request.method)
    if need is None:                     # not in the role table: refused, never open by default
        abort(403, description=f"endpoint {request.endpoint} is not in the role table")
    if not found.may(need):
        if not found.logged_in:
            return _unauthorized(f"log in or send an API token: this needs the {need!r} permission")
        abort(403, description=f"your role ({found.role}) does not have the {need!r} permission")
    if request.method in UNSAFE_METHODS and found.via != "token":
        _check_csrf(found)
    return None


def _check_csrf(found: Viewer) -> None:
    """Forms carry the session's token; the JSON API needs it only when the session cookie is
    what authenticates (a page script of ours would send it as X-CSRF-Token). Anonymous JSON
    requests carry no ambient authority; cross-origin ones are refused by security.py anyway."""
    expected = session.get("csrf")
    if _api():
        if not found.logged_in:
            return None
        sent = request.headers.get(CSRF_HEADER, "")
    else:
        sent = request.form.get(CSRF_FIELD, "")
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(403, description="the form's CSRF token is missing or out of date: reload the page "
                               "and send it again")


def rate_limit(kind: str, *keys: str | None) -> None:
    """Count one `kind` hit (login, submit) for each key; a 429 with Retry-After past the limit."""
    settings = services().settings
    limit = settings.login_rate if kind == "login" else settings.submit_rate
    limiter = current_app.extensions["archiver_limiter"]
    try:
        waits = [limiter.hit(f"{kind}:{key}", limit, WINDOW) for key in keys if key]
    except LimiterUnavailable as exc:
        current_app.logger.error("rate limiter unavailable: %s", exc)
        raise ServiceUnavailable(
            description=f"the rate limiter could not count this request: {exc}. Nothing was "
                        "stored; make that store answer (ARCHIVER_RATE_LIMIT_URL names it; unset, it "
                        "is the broker's Redis, ARCHIVER_BROKER_URL, or a file in the data folder) "
                        "and send the request again") from None
    wait = max(waits, default=0.0)
    if wait > 0:
        raise RateLimited(wait, f"too many {'login attempts' if kind == 'login' else 'submissions'}: "
                                f"at most {limit} a minute; try again in {int(wait) + 1} s")


class RateLimited(TooManyRequests):
    def __init__(self, retry_after: float, description: str):
        super().__init__(description=description)
        self.retry_after = int(retry_after) + 1

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("Retry-After", str(self.retry_after))]


def submission_limit(found: Viewer) -> None:
    """Per address always; per account and per token when there is one."""
    rate_limit("submit", f"addr:{request.remote_addr}", found.email and f"user:{found.email}",
               found.token_id and f"token:{found.token_id}")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("ui.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    settings = services().settings
    if request.method == "GET":
        return render_template("login.html", error=None, email="", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    target = request.form.get("next", "")
    rate_limit("login", f"addr:{request.remote_addr}", f"user:{email.strip().lower()[:255]}")
    with transaction(services().sessions) as db:
        result = service.authenticate(db, email, password, settings.lockout_after, settings.lockout_seconds)
        user = result.user
        stamp = service.session_stamp(user) if user else None
        uid = user.id if user else None
    if result.locked_for:
        response = current_app.make_response((render_template(
            "login.html", email=email, next=target,
            error=f"too many wrong passwords: this account is locked for {int(result.locked_for) + 1} s"), 429))
        response.headers["Retry-After"] = str(int(result.locked_for) + 1)
        return response
    if uid is None:
        return render_template("login.html", error="wrong e-mail address or password", email=email,
                               next=target), 401
    session.clear()                      # a new session: no fixation
    session["uid"], session["stamp"] = uid, stamp
    session["csrf"] = secrets.token_urlsafe(32)
    return redirect(_safe_next(target), code=303)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.get("/account")
def account():
    with services().sessions() as db:
        user = db.get(User, viewer().user_id)
        rows = service.tokens(db, user)
    return render_template("account.html", user=user, tokens=rows, new_token=None, error=None)


@bp.post("/account/tokens")
def create_token():
    with transaction(services().sessions) as db:
        user = db.get(User, viewer().user_id)
        try:
            _row, token = service.create_token(db, user, request.form.get("name", ""))
        except service.AccountError as exc:
            token, error = None, str(exc)
        else:
            error = None
    with services().sessions() as db:
        user = db.get(User, viewer().user_id)
        rows = service.tokens(db, user)
    return render_template("account.html", user=user, tokens=rows, new_token=token, error=error), \
        400 if error else 200


@bp.post("/account/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int):
    with transaction(services().sessions) as db:
        try:
            service.revoke_token(db, token_id, db.get(User, viewer().user_id))
        except service.AccountError as exc:
            abort(404, description=str(exc))
    return redirect(url_for("auth.account"), code=303)


"""JSON API for accounts: who am I, my API tokens (create: shown once; list; revoke), users (admin)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from archiver.accounts import service
from archiver.accounts.models import ApiToken, User
from archiver.db import transaction
from archiver.web import services
from archiver.web.api import _error
from archiver.web.auth import viewer

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


def _time(value):
    return value.isoformat() if value else None


def token_json(row: ApiToken) -> dict:
    return {"id": row.id, "name": row.name, "prefix": row.prefix, "created_at": _time(row.created_at),
            "last_used_at": _time(row.last_used_at), "revoked_at": _time(row.revoked_at),
            "links": {"self": url_for("accounts_api.revoke_token", token_id=row.id)}}


def user_json(user: User) -> dict:
    return {"id": user.id, "email": user.email, "role": user.role, "active": user.active,
            "created_at": _time(user.created_at), "last_login_at": _time(user.last_login_at),
            "locked_until": _time(user.locked_until)}


@bp.get("/me")
def whoami():
    v = viewer()
    return jsonify({"email": v.email, "role": v.role, "via": v.via, "token_id": v.token_id,
                    "permissions": sorted(v.permissions)})


@bp.get("/tokens")
def list_tokens():
    with services().sessions() as db:
        rows = service.tokens(db, db.get(User, viewer().user_id))
        return jsonify({"tokens": [token_json(r) for r in rows]})


@bp.post("/tokens")
def create_token():
    payload = request.get_json(silent=True) if request.is_json else None
    if not isinstance(payload, dict) or set(payload) - {"name"} or not isinstance(payload.get("name"), str):
        return _error(400, 'send JSON {"name": "what the token is for"}', field="name")
    with transaction(services().sessions) as db:
        try:
            row, token = service.create_token(db, db.get(User, viewer().user_id), payload["name"])
        except service.AccountError as exc:
            return _error(400, str(exc), field="name")
        body = token_json(row)
    body["token"] = token          # the only time it is shown
    response = jsonify(body)
    response.status_code = 201
    return response


@bp.delete("/tokens/<id:token_id>")
def revoke_token(token_id: int):
    with transaction(services().sessions) as db:
        try:
            row = service.revoke_token(db, token_id, db.get(User, viewer().user_id))
        except service.AccountError as exc:
            return _error(404, str(exc))
        return jsonify(token_json(row))


@bp.get("/users")
def list_users():
    with services().sessions() as db:
        return jsonify({"users": [user_json(u) for u in service.users(db)]})

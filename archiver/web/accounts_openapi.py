"""The accounts part of the OpenAPI description (merged into archiver/web/openapi.py): the
bearer scheme, the 401/403/429 answers every operation may give, and the account paths."""
from __future__ import annotations

from archiver.accounts.roles import PUBLIC, permission_for

ERROR = {"$ref": "#/components/schemas/Error"}
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
CAPTURE_ID = {"name": "capture_id", "in": "path", "required": True, "schema": ID}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SECURITY_SCHEMES = {"bearer": {
    "type": "http", "scheme": "bearer",
    "description": "An API token (archiver token create, or POST /api/v1/tokens), sent as "
                   "`Authorization: Bearer arc_...`. Without one a request acts with the role "
                   "ARCHIVER_ANONYMOUS_ROLE (docs/accounts.md)."}}

AUTH_ERRORS = {
    "401": _json(ERROR, "no valid token (or login) and the anonymous role may not do this"),
    "403": _json(ERROR, "the token's role may not do this, or a cross-origin browser write"),
}
RATE_LIMITED = {"description": "too many submissions; wait Retry-After seconds",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": {"application/json": {"schema": ERROR}}}


def add_auth(paths: dict, endpoint_of) -> None:
    """Give every operation that needs a permission the bearer scheme and its 401/403; the
    submission its 429. `endpoint_of(path, method)` names the Flask endpoint."""
    for path, operations in paths.items():
        for method, operation in operations.items():
            need = permission_for(endpoint_of(path, method), method.upper())
            if need == PUBLIC:
                operation["security"] = [{}]
                continue
            operation.setdefault("responses", {}).update(
                {k: v for k, v in AUTH_ERRORS.items() if k not in operation["responses"]})
            if path == "/api/v1/captures" and method == "post":
                operation["responses"]["429"] = RATE_LIMITED


def schemas() -> dict:
    return {
        "Token": {"type": "object", "required": ["id", "name", "prefix"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "prefix": {"type": "string"},
            "created_at": TIME_OR_NULL, "last_used_at": TIME_OR_NULL, "revoked_at": TIME_OR_NULL,
            "token": {"type": "string", "description": "only in the answer that creates it"},
            "links": {"type": "object"}}},
        "Restriction": {"type": "object", "required": ["capture_id", "visibility"], "properties": {
            "capture_id": {"type": "integer"},
            "visibility": {"enum": ["public", "private", "taken_down"]},
            "reason": {"type": "string"}, "owner": {"type": ["string", "null"]},
            "set_by": {"type": "string"}, "set_at": {"type": "string", "format": "date-time"}}},
    }


def paths() -> dict:
    token_list = {"type": "object", "properties": {"tokens": {"type": "array", "items": {
        "$ref": "#/components/schemas/Token"}}}}
    restriction = {"$ref": "#/components/schemas/Restriction"}
    return {
        "/api/v1/me": {"get": {"summary": "Who the token belongs to, its role and permissions",
                               "responses": {"200": _json({"type": "object"}, "the account")}}},
        "/api/v1/tokens": {
            "get": {"summary": "Your API tokens (never the tokens themselves)",
                    "responses": {"200": _json(token_list, "tokens")}},
            "post": {"summary": "Create a token; the answer is the only time it is shown",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["name"], "additionalProperties": False,
                         "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255}}}}}},
                     "responses": {"201": _json({"$ref": "#/components/schemas/Token"}, "the new token"),
                                   "400": _json(ERROR, "no name")}}},
        "/api/v1/tokens/{token_id}": {"delete": {
            "summary": "Revoke one of your tokens",
            "parameters": [{"name": "token_id", "in": "path", "required": True, "schema": ID}],
            "responses": {"200": _json({"$ref": "#/components/schemas/Token"}, "revoked"),
                          "404": _json(ERROR, "no such token of yours")}}},
        "/api/v1/users": {"get": {"summary": "Every user (admins)",
                                  "responses": {"200": _json({"type": "object"}, "users")}}},
        "/api/v1/captures/{capture_id}/restriction": {
            "get": {"summary": "Whether a capture is public, private or taken down",
                    "parameters": [CAPTURE_ID],
                    "responses": {"200": _json(restriction, "its visibility"),
                                  "404": _json(ERROR, "no such capture (or hidden from you)")}},
            "put": {"summary": "Hide a capture: private (its archivist, admins) or taken down (admins); "
                               "recorded in the evidence log, the WARC bytes are kept",
                    "parameters": [CAPTURE_ID],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["kind", "reason"], "additionalProperties": False,
                        "properties": {"kind": {"enum": ["private", "taken_down"]},
                                       "reason": {"type": "string", "minLength": 1, "maxLength": 5000}}}}}},
                    "responses": {"200": _json(restriction, "hidden"),
                                  "400": _json(ERROR, "no kind or reason"),
                                  "404": _json(ERROR, "no such capture (or hidden from you)")}},
            "delete": {"summary": "Make a hidden capture public again (recorded as reinstated)",
                       "parameters": [CAPTURE_ID],
                       "requestBody": {"required": False, "content": {"application/json": {"schema": {
                           "type": "object", "additionalProperties": False,
                           "properties": {"reason": {"type": "string", "maxLength": 5000}}}}}},
                       "responses": {"200": _json(restriction, "public again"),
                                     "400": _json(ERROR, "the body is not as described"),
                                     "404": _json(ERROR, "no such capture (or hidden from you)")}}},
    }

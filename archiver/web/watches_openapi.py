"""The watches part of the OpenAPI description (merged into archiver/web/openapi.py)."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
STRING_OR_NULL = {"type": ["string", "null"]}
WATCH_ID = {"name": "watch_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
WORDS = {400: "the request is refused; the detail says which field and why",
         404: "no such watch", 413: "the body is too large", 415: "the body is not JSON"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(code): _json(ERROR, WORDS[code]) for code in codes}


def _fields(required: list[str] | None = None) -> dict:
    schema = {"type": "object", "additionalProperties": False, "properties": {
        "url": {"type": "string", "maxLength": 2048},
        "cron": {"type": "string", "maxLength": 120,
                 "description": "5 fields (minute hour day month weekday), or 6 with seconds last"},
        "timezone": {"type": "string", "maxLength": 64, "description": "IANA name, default UTC"},
        "note": {"type": ["string", "null"], "maxLength": 10000},
        "owner": {"type": ["string", "null"], "maxLength": 255},
        "enabled": {"type": "boolean"},
        "respect_robots": {"type": "boolean", "description": "default true (docs/watches.md)"},
        "webhook_url": {"type": ["string", "null"], "maxLength": 2048},
        "mode": {"enum": ["plain", "browser", None],
                 "description": "how each run captures; null: ARCHIVER_CAPTURE_MODE (docs/browser-capture.md)"}}}
    if required:
        schema["required"] = required
    return schema


def schemas() -> dict:
    watch = {"type": "object", "required": ["id", "url", "cron", "timezone", "enabled", "links"],
             "properties": {
                 "id": {"type": "integer"}, "url": {"type": "string"}, "cron": {"type": "string"},
                 "timezone": {"type": "string"}, "note": STRING_OR_NULL, "owner": STRING_OR_NULL,
                 "enabled": {"type": "boolean"}, "respect_robots": {"type": "boolean"},
                 "webhook_url": STRING_OR_NULL, "next_run_at": TIME_OR_NULL,
                 "mode": {"enum": ["plain", "browser", None]},
                 "last_run_at": TIME_OR_NULL,
                 "last_result": {"enum": ["ok", "failed", "robots", "unqueued", None]},
                 "last_capture_id": {"type": ["integer", "null"]},
                 "failure_count": {"type": "integer"}, "flagged": {"type": "boolean"},
                 "flag_reason": STRING_OR_NULL, "created_at": {"type": "string"},
                 "updated_at": {"type": "string"}, "links": {"type": "object"},
                 "webhook_secret": {"type": ["string", "null"],
                                    "description": "only when it is made: keep it to check signatures"},
                 "runs": {"type": "array", "items": {"$ref": "#/components/schemas/WatchRun"}}}}
    run = {"type": "object", "required": ["slot", "result"], "properties": {
        "slot": {"type": "string"}, "claimed_at": {"type": "string"},
        "result": {"enum": ["ok", "failed", "robots", "unqueued", None]},
        "detail": STRING_OR_NULL, "finished_at": TIME_OR_NULL,
        "capture_id": {"type": ["integer", "null"]}, "capture": STRING_OR_NULL}}
    return {"Watch": watch, "WatchRun": run, "NewWatch": _fields(["url", "cron"]),
            "WatchChanges": _fields()}


def paths() -> dict:
    watch = {"$ref": "#/components/schemas/Watch"}
    return {
        "/api/v1/watches": {
            "get": {"summary": "Every watch, with its next run and last result",
                    "responses": {"200": _json({"type": "object", "properties": {"watches": {
                        "type": "array", "items": watch}}}, "watches")}},
            "post": {"summary": "Watch a URL: capture it again on a cron schedule",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"$ref": "#/components/schemas/NewWatch"}}}},
                     "responses": {"201": _json(watch, "created; Location names it"),
                                   **_errors(400, 413, 415)}},
        },
        "/api/v1/watches/{watch_id}": {
            "get": {"summary": "A watch and its history of runs (newest first)",
                    "parameters": [WATCH_ID],
                    "responses": {"200": _json(watch, "the watch"), **_errors(404)}},
            "patch": {"summary": "Edit, pause (enabled false) or resume (enabled true) a watch",
                      "parameters": [WATCH_ID],
                      "requestBody": {"required": True, "content": {"application/json": {
                          "schema": {"$ref": "#/components/schemas/WatchChanges"}}}},
                      "responses": {"200": _json(watch, "the watch as changed"),
                                    **_errors(400, 404, 413, 415)}},
            "delete": {"summary": "Delete a watch (its captures stay in the archive)",
                       "parameters": [WATCH_ID],
                       "responses": {"204": {"description": "deleted"}, **_errors(404)}},
        },
    }

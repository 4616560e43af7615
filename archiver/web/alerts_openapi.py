"""The change-alert part of the OpenAPI description (merged into archiver/web/openapi.py)."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def schemas() -> dict:
    attempt = {"type": "object", "required": ["attempt", "at", "status", "error"], "properties": {
        "attempt": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
        "status": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}}}
    return {"WebhookDelivery": {
        "type": "object",
        "required": ["id", "watch_id", "capture_id", "url", "state", "attempts", "attempt_log"],
        "properties": {
            "id": {"type": "integer"}, "watch_id": {"type": "integer"},
            "capture_id": {"type": "integer"}, "url": {"type": "string"},
            "event": {"type": "string", "enum": ["capture.changed"]},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer"}, "last_status": {"type": ["integer", "null"]},
            "last_error": {"type": ["string", "null"]}, "created_at": TIME_OR_NULL,
            "delivered_at": TIME_OR_NULL, "attempt_log": {"type": "array", "items": attempt},
            "payload": {"type": "string", "description": "the exact JSON body signed and sent"}}}}


def paths() -> dict:
    delivery = {"$ref": "#/components/schemas/WebhookDelivery"}
    return {
        "/api/v1/watches/{watch_id}/deliveries": {"get": {
            "summary": "The webhook deliveries of a watch, newest first, every attempt logged",
            "parameters": [{"name": "watch_id", "in": "path", "required": True, "schema": ID},
                           {"name": "limit", "in": "query", "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
            "responses": {
                "200": _json({"type": "object", "required": ["watch_id", "deliveries"],
                              "properties": {"watch_id": {"type": "integer"},
                                             "deliveries": {"type": "array", "items": delivery}}},
                             "the deliveries"),
                "400": _json(ERROR, "limit is not 1 to 100"),
                "404": _json(ERROR, "no such watch")}}},
        "/api/v1/deliveries/{delivery_id}": {"get": {
            "summary": "One webhook delivery, with the exact body that was signed and sent",
            "parameters": [{"name": "delivery_id", "in": "path", "required": True, "schema": ID}],
            "responses": {"200": _json(delivery, "the delivery"),
                          "404": _json(ERROR, "no such delivery")}}},
    }

"""The WARC-import part of the OpenAPI description (merged into archiver/web/openapi.py)."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
IMPORT = {"$ref": "#/components/schemas/Import"}
IMPORT_ID = {"name": "import_id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def schemas() -> dict:
    return {"Import": {
        "type": "object", "required": ["id", "state", "source", "percent", "links"],
        "properties": {
            "id": {"type": "integer"},
            "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "source": {"type": "object", "properties": {
                "filename": {"type": "string"}, "size": {"type": ["integer", "null"]},
                "sha256": {"type": ["string", "null"]}}},
            "imported_by": {"type": ["string", "null"]}, "via": {"type": "string"},
            "progress": {"type": ["object", "null"]}, "percent": {"type": "integer"},
            "captures": {"type": "integer"}, "duplicates": {"type": "integer"},
            "skipped": {"type": "integer", "description": "damaged parts left out"},
            "problems": {"type": "array", "items": {"type": "string"},
                         "description": "each damaged part: offset, length, what is wrong"},
            "capture_ids": {"type": "array", "items": {"type": "integer"}},
            "message": {"type": ["string", "null"]},
            "created_at": TIME_OR_NULL, "finished_at": TIME_OR_NULL,
            "links": {"type": "object"}}}}


def paths() -> dict:
    return {
        "/api/v1/imports": {
            "post": {
                "summary": "Import a WARC of another tool (admin): upload it, a worker imports it "
                           "record by record (docs/import.md)",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"], "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "note": {"type": "string"}}}}}},
                "responses": {
                    "202": {**_json(IMPORT, "queued; follow Location for its progress"),
                            "headers": {"Location": {"schema": {"type": "string"}}}},
                    "400": _json(ERROR, "no file field"),
                    "413": _json(ERROR, "the file is larger than the upload limit"),
                    "503": _json(IMPORT, "stored, but the broker could not be reached: the import failed")}},
            "get": {
                "summary": "The latest imports (admin), newest first",
                "responses": {"200": _json({"type": "object", "required": ["imports"], "properties": {
                    "imports": {"type": "array", "items": IMPORT}}}, "the latest 50 imports")}}},
        "/api/v1/imports/{import_id}": {"get": {
            "summary": "One import's state and progress (admin)",
            "parameters": [IMPORT_ID],
            "responses": {"200": _json(IMPORT, "the import"), "404": _json(ERROR, "no such import")}}},
    }

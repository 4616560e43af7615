"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json."""
from __future__ import annotations

from flask import Blueprint, jsonify

from archiver import __version__
from archiver.web import accounts_openapi, alerts_openapi, evidence_openapi, imports_openapi, watches_openapi

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    words = {400: "the request is refused; the detail says why", 404: "no such capture",
             409: "the captures cannot be compared in their state", 413: "the body is too large",
             415: "the body is not JSON", 503: "saved but the broker could not be reached"}
    return {str(code): _json(ERROR, words[code]) for code in codes}


CAPTURE_ID = {"name": "capture_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


def document() -> dict:
    string_or_null = {"type": ["string", "null"]}
    int_or_null = {"type": ["integer", "null"]}
    search_parameters = [
        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 500}},
        {"name": "site", "in": "query", "schema": {"type": "string"}},
        {"name": "since", "in": "query", "schema": {"type": "string"}},
        {"name": "until", "in": "query", "schema": {"type": "string"}},
        {"name": "status", "in": "query", "schema": {"type": "integer"}},
        {"name": "type", "in": "query", "schema": {"type": "string"}},
        {"name": "sort", "in": "query", "schema": {"enum": ["relevance", "date"]}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "per_page", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]
    wacz = {"description": "a WACZ package (a ZIP file): the WARC records, a CDXJ index, "
                           "pages, provenance and text; byte ranges are served",
            "content": {"application/wacz": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "archiver API", "version": __version__,
                 "description": "Submit URLs for capture; read captures, their provenance, "
                                "text and WARC records; search, history and diffs."},
        "paths": {
            "/api/v1/captures": {
                "post": {
                    "summary": "Capture one URL or many",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Submission"}}}},
                    "responses": {"202": _json({"$ref": "#/components/schemas/Submitted"},
                                               "queued; Location names the capture(s)"),
                                  **_errors(400, 413, 415, 503)},
                },
                "get": {
                    "summary": "Recent captures, or the ones named by ids",
                    "parameters": [{"name": "ids", "in": "query", "required": False,
                                    "schema": {"type": "string", "pattern": r"^[0-9]{1,18}(,[0-9]{1,18})*$"},
                                    "description": "comma-separated capture ids"}],
                    "responses": {"200": _json({"type": "object", "properties": {"captures": {
                        "type": "array", "items": {"$ref": "#/components/schemas/Capture"}}}},
                        "captures"), **_errors(400)},
                },
            },
            "/api/v1/captures/{capture_id}": {"get": {
                "summary": "A capture's state, timings, links and full provenance",
                "parameters": [CAPTURE_ID],
                "responses": {"200": _json({"$ref": "#/components/schemas/Capture"}, "the capture"),
                              **_errors(404)}}},
            "/api/v1/captures/{capture_id}/provenance": {"get": {
                "summary": "The provenance document (download)", "parameters": [CAPTURE_ID],
                "responses": {"200": _json({"type": "object"}, "provenance JSON"), **_errors(404)}}},
            "/api/v1/captures/{capture_id}/text": {"get": {
                "summary": "The extracted text (download)", "parameters": [CAPTURE_ID],
                "responses": {"200": {"description": "title line, blank line, paragraphs",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}},
                              **_errors(404)}}},
            "/api/v1/captures/{capture_id}/screenshot.png": {"get": {
                "summary": "A browser capture's full-page screenshot, from its WARC resource record",
                "parameters": [CAPTURE_ID],
                "responses": {"200": {"description": "PNG", "content": {"image/png": {"schema": {
                                  "type": "string", "format": "binary"}}}},
                              **_errors(404)}}},
            "/api/v1/captures/{capture_id}/dom": {"get": {
                "summary": "A browser capture's rendered DOM, as text (download)",
                "parameters": [CAPTURE_ID],
                "responses": {"200": {"description": "the serialised document",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}},
                              **_errors(404)}}},
            "/api/v1/captures/{capture_id}/warc": {"get": {
                "summary": "The capture's WARC records as a .warc.gz (download)", "parameters": [CAPTURE_ID],
                "responses": {"200": {"description": "gzip WARC records",
                                      "content": {"application/warc": {"schema": {
                                          "type": "string", "format": "binary"}}}},
                              **_errors(404)}}},
            "/api/v1/captures/{capture_id}/wacz": {"get": {
                "summary": "The capture as a WACZ 1.2 package (download)", "parameters": [CAPTURE_ID],
                "responses": {"200": wacz, **_errors(404),
                              "409": _json(ERROR, "the capture has no WARC records to package")}}},
            "/api/v1/captures/{from_id}/diff/{to_id}": {"get": {
                "summary": "Text diff of two stored captures",
                "parameters": [{**CAPTURE_ID, "name": "from_id"}, {**CAPTURE_ID, "name": "to_id"}],
                "responses": {"200": _json({"type": "object"}, "blocks of paragraphs and word runs"),
                              **_errors(404, 409)}}},
            "/api/v1/search": {"get": {
                "summary": "Full-text search over stored captures",
                "parameters": search_parameters,
                "responses": {"200": _json({"type": "object"}, "a page of hits"), **_errors(400)}}},
            "/api/v1/search.wacz": {"get": {
                "summary": "Every capture a search matches (at most 500) as one WACZ 1.2 package "
                           "(download); page and per_page are ignored",
                "parameters": search_parameters,
                "responses": {"200": wacz, **_errors(400),
                              "404": _json(ERROR, "the search matches no captures")}}},
            "/api/v1/history": {"get": {
                "summary": "Every capture of a URL, marked against the one before",
                "parameters": [{"name": "url", "in": "query", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object"}, "captures and captures per day"),
                              **_errors(400)}}},
            **watches_openapi.paths(),
            **alerts_openapi.paths(),
            **evidence_openapi.paths(),
            **accounts_openapi.paths(),
            **imports_openapi.paths(),
        },
        "security": [{}, {"bearer": []}],
        "components": {"securitySchemes": accounts_openapi.SECURITY_SCHEMES, "schemas": {
            **accounts_openapi.schemas(),
            **watches_openapi.schemas(),
            **alerts_openapi.schemas(),
            **evidence_openapi.schemas(),
            **imports_openapi.schemas(),
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["status", "detail"],
                "properties": {"status": {"type": "integer"}, "detail": {"type": "string"},
                               "field": {"type": "string"}, "index": {"type": "integer"}}}}},
            "Submission": {"type": "object", "additionalProperties": False, "properties": {
                "url": {"type": "string", "maxLength": 2048},
                "urls": {"type": "array", "items": {"type": "string", "maxLength": 2048},
                         "minItems": 1, "maxItems": 100},
                "note": {"type": "string", "maxLength": 10000},
                # plain: one HTTP fetch; browser: headless Chromium (docs/browser-capture.md);
                # absent or null: ARCHIVER_CAPTURE_MODE
                "mode": {"enum": ["plain", "browser", None]}},
                "oneOf": [{"required": ["url"]}, {"required": ["urls"]}]},
            "Submitted": {"type": "object", "properties": {
                "ids": {"type": "array", "items": {"type": "integer"}},
                "captures": {"type": "array", "items": {"type": "object"}}}},
            "Capture": {"type": "object", "required": ["id", "state", "url", "links"], "properties": {
                "id": {"type": "integer"},
                "state": {"enum": ["queued", "fetching", "stored", "failed"]},
                "url": {"type": "string"}, "final_url": string_or_null,
                "http_status": int_or_null, "title": string_or_null,
                "error": {"type": ["object", "null"]}, "timings": {"type": "object"},
                "attempts": {"type": "integer"}, "links": {"type": "object"},
                "provenance": {"type": "object"},
                # the page's images, stylesheets, ...: {"fetched": [...], "skipped": [...]}
                "requisites": {"type": ["object", "null"]},
                # against the previous stored capture of its URL (docs/changes.md)
                "change": {"enum": ["first", "unchanged", "text unchanged", "changed", None]},
                "previous_id": int_or_null, "revisit_of": int_or_null,
                "mode": {"enum": ["plain", "browser"]}}},
        }},
    }


def _endpoint_of(path: str, method: str) -> str | None:
    """The Flask endpoint serving an OpenAPI path (`{name}` parameters) and method."""
    import re
    from flask import current_app
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(re.sub(r"\{[^}]+\}", "1", path), method=method.upper())
    except Exception:       # noqa: BLE001  (no such route: the role check treats it as unknown)
        return None
    return endpoint


@bp.get("/openapi.json")
def openapi():
    body = document()
    accounts_openapi.add_auth(body["paths"], _endpoint_of)
    return jsonify(body)

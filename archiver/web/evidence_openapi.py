"""The evidence part of the OpenAPI description (merged into archiver/web/openapi.py)."""
from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
CAPTURE_ID = {"name": "capture_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
SIZE = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(ERROR, description)


def schemas() -> dict:
    head = {"$ref": "#/components/schemas/TreeHead"}
    return {
        "TreeHead": {"type": "object", "required": ["size", "root", "timestamp_ms", "signature"],
                     "description": "Ed25519 signature over 'archiver-tree-head-v1\\n' || size (8 bytes "
                                    "big-endian) || timestamp_ms (8 bytes) || root (32 bytes)",
                     "properties": {"size": {"type": "integer"}, "root": HEX,
                                    "timestamp_ms": {"type": "integer"},
                                    "signature": {"type": "string", "description": "base64"},
                                    "algorithm": {"type": "string"}, "signed": {"type": "string"}}},
        "LogEntry": {"type": "object", "required": ["position", "event", "leaf_hash", "inclusion"],
                     "properties": {
                         "position": {"type": "integer"}, "event": {"type": "string"},
                         "capture_id": {"type": ["integer", "null"]}, "leaf_hash": HEX,
                         "recorded_at": {"type": "string"}, "agent": {"type": "object"},
                         "details": {"type": "object"},
                         "canonical": {"type": "string",
                                       "description": "the bytes (UTF-8) whose SHA-256 with a 0x00 prefix "
                                                      "is leaf_hash"},
                         "withheld": {"type": "string"}, "detail": {"type": "string"},
                         "inclusion": {"type": ["object", "null"], "properties": {
                             "head": head, "proof": {"type": "array", "items": HEX}}}}},
        "Consistency": {"type": "object", "required": ["from", "to", "proof"], "properties": {
            "from": head, "to": head, "proof": {"type": "array", "items": HEX}}},
        "Verification": {"type": "object", "required": ["capture_id", "ok", "checks"], "properties": {
            "capture_id": {"type": "integer"}, "ok": {"type": "boolean"},
            "checks": {"type": "array", "items": {"type": "object", "required": ["check", "result", "detail"],
                                                  "properties": {"check": {"type": "string"},
                                                                 "result": {"enum": ["pass", "fail"]},
                                                                 "detail": {"type": "string"}}}}}},
    }


def paths() -> dict:
    bundle = {"description": "the evidence bundle: a WACZ signed as wacz-auth 0.1.0 describes, with the "
                             "records, provenance (JSON, PROV, PREMIS), log entries, inclusion proofs, "
                             "the signed head and the public key; check it with archiver-verify",
              "content": {"application/wacz": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "/api/v1/log/public-key": {"get": {
            "summary": "The archive's Ed25519 public key, which signs the log's tree heads (PEM)",
            "responses": {"200": {"description": "SubjectPublicKeyInfo PEM",
                                  "content": {"application/x-pem-file": {"schema": {"type": "string"}}}}}}},
        "/api/v1/log/head": {"get": {
            "summary": "The latest signed tree head of the evidence log",
            "responses": {"200": _json({"$ref": "#/components/schemas/TreeHead"}, "the head"),
                          "404": _error("no head has been signed yet")}}},
        "/api/v1/log/entries/{position}": {"get": {
            "summary": "A log entry and its inclusion proof against the latest signed head",
            "parameters": [{"name": "position", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}}],
            "responses": {"200": _json({"$ref": "#/components/schemas/LogEntry"}, "the entry"),
                          "404": _error("no such entry")}}},
        "/api/v1/log/consistency": {"get": {
            "summary": "Consistency proof between two signed heads, given by their sizes",
            "parameters": [{"name": "from", "in": "query", "required": True, "schema": SIZE},
                           {"name": "to", "in": "query", "required": True, "schema": SIZE}],
            "responses": {"200": _json({"$ref": "#/components/schemas/Consistency"}, "both heads and the proof"),
                          "400": _error("the sizes are not numbers, or from > to"),
                          "404": _error("no signed head has one of the sizes")}}},
        "/api/v1/captures/{capture_id}/verify": {"get": {
            "summary": "Re-hash the capture's records; check them against the catalogue, the log and "
                       "a signed head",
            "parameters": [CAPTURE_ID],
            "responses": {"200": _json({"$ref": "#/components/schemas/Verification"},
                                       "every check with pass or fail and its reason"),
                          "404": _error("no such capture")}}},
        "/api/v1/captures/{capture_id}/bundle": {"get": {
            "summary": "The capture's evidence bundle (download)", "parameters": [CAPTURE_ID],
            "responses": {"200": bundle, "404": _error("no such capture"),
                          "409": _error("the capture has no WARC records to package")}}},
        "/api/v1/captures/{capture_id}/prov": {"get": {
            "summary": "The capture's provenance in W3C PROV-JSON (download)", "parameters": [CAPTURE_ID],
            "responses": {"200": _json({"type": "object"}, "PROV-JSON"), "404": _error("no such capture")}}},
        "/api/v1/captures/{capture_id}/premis": {"get": {
            "summary": "The capture's preservation metadata in PREMIS 3 XML (download)",
            "parameters": [CAPTURE_ID],
            "responses": {"200": {"description": "PREMIS 3.0 XML",
                                  "content": {"application/xml": {"schema": {"type": "string"}}}},
                          "404": _error("no such capture")}}},
        "/api/v1/records/describedby": {"get": {
            "summary": "From a memento's WARC record (file and offset, as replay knows them) to its "
                       "capture's evidence",
            "parameters": [{"name": "file", "in": "query", "required": True, "schema": {"type": "string"}},
                           {"name": "offset", "in": "query", "required": True, "schema": SIZE},
                           {"name": "then", "in": "query", "required": False,
                            "schema": {"enum": ["provenance", "verify", "bundle", "prov", "premis"]}}],
            "responses": {"200": _json({"type": "object"}, "the capture id, the record and links"),
                          "302": {"description": "with then=...: to that document of the capture"},
                          "400": _error("file or offset missing or malformed"),
                          "404": _error("no archived record there")}}},
    }

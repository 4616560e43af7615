"""Importing WARCs through the JSON API (admin): the same upload and job as the form
(archiver/web/import_ui.py), answered in JSON (docs/import.md).

    curl -H "Authorization: Bearer $TOKEN" -F file=@crawl.warc.gz .../api/v1/imports
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from archiver.web.import_ui import job_or_404, queue_uploaded_file, recent_imports, status_of

bp = Blueprint("imports_api", __name__, url_prefix="/api/v1")


def _with_links(status: dict) -> dict:
    return {**status, "links": {"self": url_for("imports_api.get_import", import_id=status["id"]),
                                "page": url_for("import_ui.import_page", import_id=status["id"])}}


@bp.post("/imports")
def create_import():
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        response = jsonify({"error": {"status": 400, "field": "file", "detail":
                                      "send the WARC as a multipart/form-data field named file, e.g. "
                                      "curl -F file=@crawl.warc.gz .../api/v1/imports"}})
        response.status_code = 400
        return response
    note = request.form.get("note") or None
    job_id = queue_uploaded_file(upload_file, note)
    body = _with_links(status_of(job_or_404(job_id)))
    response = jsonify(body)
    response.status_code = 503 if body["state"] == "failed" else 202
    response.headers["Location"] = body["links"]["self"]
    return response


@bp.get("/imports")
def list_imports():
    return jsonify({"imports": [_with_links(status_of(job)) for job in recent_imports()]})


@bp.get("/imports/<id:import_id>")
def get_import(import_id: int):
    return jsonify(_with_links(status_of(job_or_404(import_id))))

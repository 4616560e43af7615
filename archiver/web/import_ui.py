"""Admin pages for importing WARCs: the upload form with the list of imports, and one
import's progress (docs/import.md). The import itself runs on a worker (maintenance queue)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from archiver.importer.jobs import TASK_NAME, queue_upload
from archiver.importer.models import FINAL, ImportJob
from archiver.web import row_or_404, services
from archiver.web.auth import viewer

bp = Blueprint("import_ui", __name__)

# The app refuses bodies over 1 MiB (MAX_REQUEST_BYTES); a WARC may be gigabytes.
MAX_UPLOAD_BYTES = 8 * 1024**3
RECENT = 50
UPLOAD_ENDPOINTS = ("import_ui.upload", "imports_api.create_import")


@bp.before_app_request
def _allow_large_upload():
    """Raise the body limit for the upload form only. This hook runs before the role check
    (archiver.web.auth.authorize), but nothing reads the body until that check has let an
    admin through: it refuses everyone else before it looks at the form's CSRF token."""
    if request.endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
        request.max_content_length = MAX_UPLOAD_BYTES


def _recent(session) -> list[ImportJob]:
    return list(session.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(RECENT)))


def _list_page(error: str | None = None, status: int = 200):
    with services().sessions() as session:
        jobs = _recent(session)
    return render_template("imports.html", jobs=jobs, error=error), status


@bp.get("/admin/imports")
def imports_page():
    return _list_page()


@bp.post("/admin/imports")
def upload():
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _list_page("choose a .warc.gz or .warc file to import", 400)
    job_id = queue_uploaded_file(upload_file, request.form.get("note") or None)
    return redirect(url_for("import_ui.import_page", import_id=job_id), code=303)


def queue_uploaded_file(upload_file, note: str | None) -> int:
    """Put an uploaded file in storage and queue its import on the maintenance queue (the
    form and the API); the new import's id."""
    svc = services()
    folder = svc.settings.data_dir / "imports" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".upload") as spool:
        upload_file.save(spool)
    upload_file.close()        # werkzeug spooled a large upload to a temporary file of its own
    path = Path(spool.name)
    try:
        return queue_upload(svc.settings, svc.sessions, svc.storage, path, Path(upload_file.filename).name,
                            viewer().submitted_by, note,
                            enqueue=lambda jid: svc.celery.send_task(
                                TASK_NAME, args=[jid], queue=svc.settings.maintenance_queue))
    finally:
        path.unlink(missing_ok=True)        # moved into storage, or failed before


def recent_imports() -> list[ImportJob]:
    with services().sessions() as session:
        return _recent(session)


def job_or_404(import_id: int) -> ImportJob:
    with services().sessions() as session:
        return _job(session, import_id)


def _job(session, import_id: int) -> ImportJob:
    return row_or_404(session, ImportJob, import_id, "import")


@bp.get("/admin/imports/<id:import_id>")
def import_page(import_id: int):
    with services().sessions() as session:
        job = _job(session, import_id)
        return render_template("import.html", job=job, final=job.state in FINAL, percent=_percent(job))


@bp.get("/admin/imports/<id:import_id>/status")
def import_status(import_id: int):
    with services().sessions() as session:
        return jsonify(status_of(_job(session, import_id)))


def _percent(job: ImportJob) -> int:
    """Reading is the first half of the work, cataloguing the second."""
    if job.state in FINAL:
        return 100
    progress = job.progress or {}
    total = progress.get("total") or 0
    share = (progress.get("done", 0) / total) if total else 0.0
    return int(50 * share) + (50 if progress.get("phase") == "cataloguing" else 0)


def status_of(job: ImportJob) -> dict:
    return {"id": job.id, "state": job.state, "source": {"filename": job.source_name, "size": job.source_size,
                                                        "sha256": job.source_sha256},
            "imported_by": job.imported_by, "via": job.via, "progress": job.progress,
            "percent": _percent(job), "captures": job.captures, "duplicates": job.duplicates,
            "skipped": job.skipped, "problems": job.problems or [], "capture_ids": job.capture_ids or [],
            "message": job.message,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}

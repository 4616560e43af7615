"""Imports run by a worker: an upload waits in storage, a task imports it by the job's id.

The web app and the workers may be on different machines (docs/deploy.md); storage is the
one place both reach, so an upload is put there (under `import-uploads/`, which the fixity
audit does not count as a WARC file) and removed once its import has finished.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.db import transaction
from archiver.importer.models import DONE, FAILED, QUEUED, ImportJob
from archiver.importer.service import claim_job, import_warc, start_job
from storage import Storage

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "import-uploads/"
TASK_NAME = "archiver.import_warc"
# An import reads a whole WARC file: hours for a large one, not a capture's minutes. The
# task's time limit; an import `running` longer than this lost its worker.
IMPORT_TIME_LIMIT = 6 * 3600


def queue_upload(settings: Settings, sessions: sessionmaker[Session], storage: Storage, upload: Path,
                 source_name: str, imported_by: str | None, note: str | None, enqueue) -> int:
    """Store an uploaded file, make its queued import, commit, then `enqueue(job_id)`.
    A broker that cannot be reached fails the import with a message (never lost silently)."""
    key = f"{UPLOAD_PREFIX}{uuid.uuid4().hex}.upload"
    storage.put(key, upload, move=True)
    job_id = start_job(sessions, source_name, imported_by, "web", note, state=QUEUED, upload_key=key)
    try:
        enqueue(job_id)
    except Exception as exc:  # noqa: BLE001 - the broker is down: say so on the import
        log.exception("could not queue import %s", job_id)
        storage.delete(key)
        with transaction(sessions) as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                state=FAILED, upload_key=None,
                message=f"the import could not be queued ({exc}); upload the file again once the "
                        "broker is back"))
    return job_id


def run_import_job(settings: Settings, sessions: sessionmaker[Session], storage: Storage, job_id: int) -> str:
    """What the task does: claim the queued import, fetch its upload, import it. Returns the
    import's state; a job already taken (a redelivered message) is left alone."""
    if not claim_job(sessions, job_id, stale_after=IMPORT_TIME_LIMIT + 60):
        with sessions() as session:
            job = session.get(ImportJob, job_id)
            return job.state if job else "missing"
    with sessions() as session:
        job = session.get(ImportJob, job_id)
        key, name, who, note = job.upload_key, job.source_name, job.imported_by, job.note
    work = settings.data_dir / "imports" / "work"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as folder:
        local = Path(folder) / "upload"
        try:
            with storage.open(key) as source, open(local, "wb") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
        except Exception as exc:  # noqa: BLE001
            with transaction(sessions) as session:
                session.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    state=FAILED, message=f"the uploaded file could not be read from storage: {exc}"))
            return FAILED
        report = import_warc(settings, sessions, storage, local, imported_by=who, via="web",
                             note=note, source_name=name, job_id=job_id)
    if report.state == DONE:
        storage.delete(key)
        with transaction(sessions) as session:
            session.execute(update(ImportJob).where(ImportJob.id == job_id).values(upload_key=None))
    return report.state

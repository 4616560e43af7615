"""Fixity audits: re-read every sealed WARC file in storage and compare it with what the
catalogue recorded when it was sealed.

Per file: present in storage; whole-file size and sha256; a clean gzip stream to its end
(no truncated member, no trailing bytes); every record one gzip member with its block and
payload digests checked (a digest that could not be checked is a failure,
`archiver.warc.verify_warc_file`); the record count; and every record the catalogue
places in the file found at its offset with its length and record id. Then the other
way round: files in storage that the catalogue does not know are reported as untracked.

Each file's result, and the audit's summary, are entries in the evidence log.
"""
from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archiver.config import Settings
from archiver.ledger.log import record
from archiver.models import CaptureRecord, WarcFile
from archiver.provenance import software_versions
from archiver.warc import verify_warc_file
from storage import Storage

OK, CHANGED, MISSING, UNTRACKED = "ok", "changed", "missing", "untracked"
MAX_PROBLEMS_LOGGED = 20


@dataclass
class FileResult:
    key: str
    status: str
    problems: list[str] = field(default_factory=list)
    size: int | None = None
    sha256: str | None = None


@dataclass
class AuditReport:
    audit_id: str
    started_at: datetime
    finished_at: datetime | None = None
    files: list[FileResult] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return all(f.status == OK for f in self.files)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> dict:
        return {"audit_id": self.audit_id, "files": len(self.files), "ok": self.count(OK),
                "changed": self.count(CHANGED), "missing": self.count(MISSING),
                "untracked": self.count(UNTRACKED), "bytes_read": self.bytes_read,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}


def audit_agent(settings: Settings) -> dict:
    versions = software_versions()
    return {"kind": "system", "name": "fixity-audit", "host": settings.hostname or socket.gethostname(),
            "software": f"{versions['name']} {versions['version']}"}


def check_file(session: Session, storage: Storage, row: WarcFile) -> FileResult:
    key = row.storage_key or row.filename
    if not storage.exists(key):
        return FileResult(key, MISSING, [f"{key} is in the catalogue but not in storage ({storage.name})"])
    with storage.open(key) as handle:
        found = verify_warc_file(handle)
    problems = list(found.problems)
    if row.size is not None and found.size != row.size:
        problems.append(f"size is {found.size} bytes; the catalogue recorded {row.size}")
    if row.sha256 and found.sha256 != row.sha256:
        problems.append(f"sha256 is {found.sha256}; the catalogue recorded {row.sha256}")
    if row.record_count is not None and found.record_count != row.record_count:
        problems.append(f"{found.record_count} records; the catalogue recorded {row.record_count}")
    at = {(r.offset, r.length): r.record_id for r in found.records}
    for rec in session.scalars(select(CaptureRecord).where(CaptureRecord.warc_file_id == row.id)):
        there = at.get((rec.offset, rec.length))
        if there != rec.record_id:
            problems.append(f"capture {rec.capture_id}'s {rec.record_type} record {rec.record_id} is not "
                            f"at offset {rec.offset} ({rec.length} bytes)"
                            + (f": {there} is" if there else ""))
    return FileResult(key, CHANGED if problems else OK, problems, found.size, found.sha256)


def run_audit(sessions: sessionmaker[Session], storage: Storage, settings: Settings,
              pace_bytes: float | None = None, progress: Callable[[int, int, FileResult], None] | None = None,
              now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> AuditReport:
    """Audit every sealed file, at most `pace_bytes` per second (None: as fast as it goes)."""
    report = AuditReport(audit_id=uuid.uuid4().hex, started_at=now())
    agent = audit_agent(settings)
    with sessions() as session:
        rows = session.scalars(select(WarcFile).where(WarcFile.state == "sealed").order_by(WarcFile.id)).all()
        session.expunge_all()
    tracked = {row.storage_key or row.filename for row in rows}
    untracked = [k for k in storage.keys() if k not in tracked and k.endswith((".warc.gz", ".warc"))]
    total = len(rows) + len(untracked)
    started = time.monotonic()
    for done, row in enumerate(rows, 1):
        with sessions() as session:
            result = check_file(session, storage, row)
        report.files.append(result)
        report.bytes_read += result.size or 0
        _log_file(sessions, agent, report.audit_id, result)
        if progress:
            progress(done, total, result)
        if pace_bytes:
            ahead = report.bytes_read / pace_bytes - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    for done, key in enumerate(untracked, len(rows) + 1):
        result = FileResult(key, UNTRACKED, [f"{key} is in storage but not in the catalogue"])
        report.files.append(result)
        _log_file(sessions, agent, report.audit_id, result)
        if progress:
            progress(done, total, result)
    report.finished_at = now()
    record(sessions, "audit_finished", agent, {**report.summary(), "result": "pass" if report.ok else "fail"})
    return report


def _log_file(sessions, agent: dict, audit_id: str, result: FileResult) -> None:
    record(sessions, "fixity_checked", agent,
           {"audit_id": audit_id, "file": result.key, "status": result.status,
            "result": "pass" if result.status == OK else "fail", "sha256": result.sha256,
            "size": result.size, "problems": result.problems[:MAX_PROBLEMS_LOGGED]})

"""Importing one WARC file: check it, keep its good records as a WARC file of the catalogue,
make a capture of each new response, with its text, search and replay entries and log events.

Order, so that nothing already stored is touched and nothing half-made is shown:
  1. read the source once, record by record, writing the good records to a work file;
  2. leave out responses already catalogued (same WARC-Record-ID): a re-import adds nothing;
  3. read each new capture's text from the work file;
  4. put the work file into storage (verified by size and sha256);
  5. one transaction: the WARC file row, the captures and their records, search entries,
     the log's `imported`, `text_extracted` and `stored` events, the import row;
  6. the replay index (a failure there is logged: `archiver reindex` rebuilds it).
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from archiver.changes import compare, previous_capture
from archiver.config import Settings
from archiver.db import transaction
from archiver.importer.captures import Planned, capture_fields, new_capture, plan_captures
from archiver.importer.models import DONE, FAILED, QUEUED, RUNNING, ImportJob
from archiver.importer.scan import ScanResult, file_sha256, scan_source
from archiver.ledger.events import outcome_entries
from archiver.ledger.log import NewEntry, append_all
from archiver.models import CaptureRecord, WarcFile
from archiver.provenance import software_versions
from archiver.replay.index import add_lines, capture_lines
from archiver.search import search_index_for
from storage import Storage

log = logging.getLogger(__name__)

MAX_PROBLEMS_KEPT = 1000          # on the import's row; the count is always whole
PROGRESS_EVERY = 0.5              # seconds between progress writes to the catalogue
IN_CLAUSE = 500
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# progress(phase, done, total): phase "reading" counts bytes, "cataloguing" captures
Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    import_id: int
    source_name: str
    state: str = DONE
    source_sha256: str | None = None
    source_size: int | None = None
    warc_file: str | None = None          # the kept file's name (storage key); None if nothing new
    capture_ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        """Everything in the source came in (or was in already)."""
        return self.state == DONE and not self.problems


def _now() -> datetime:
    return datetime.now(timezone.utc)


def start_job(sessions: sessionmaker[Session], source_name: str, imported_by: str | None, via: str,
              note: str | None = None, state: str = RUNNING, upload_key: str | None = None) -> int:
    with transaction(sessions) as session:
        job = ImportJob(state=state, via=via, imported_by=imported_by, note=note,
                        source_name=source_name, upload_key=upload_key, created_at=_now(),
                        started_at=_now() if state == RUNNING else None)
        session.add(job)
        session.flush()
        return job.id


def claim_job(sessions: sessionmaker[Session], job_id: int, stale_after: float) -> bool:
    """Take a queued import with one conditional UPDATE, or one `running` for longer than
    `stale_after` seconds (its worker died: the import is one transaction, so nothing of it
    was catalogued). A redelivered message of an import that is running or done does nothing."""
    now = _now()
    stale = now - timedelta(seconds=stale_after)
    with transaction(sessions) as session:
        result = session.execute(
            update(ImportJob).where(ImportJob.id == job_id)
            .where(or_(ImportJob.state == QUEUED, (ImportJob.state == RUNNING) & (ImportJob.started_at < stale)))
            .values(state=RUNNING, started_at=now)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1


class _JobProgress:
    """Writes the job's progress to its row now and then, and passes it on."""

    def __init__(self, sessions, job_id: int, also: Progress | None):
        self.sessions, self.job_id, self.also = sessions, job_id, also
        self._last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.also is not None:
            self.also(phase, done, total)
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY and done < total:
            return
        self._last = now
        with transaction(self.sessions) as session:
            session.execute(update(ImportJob).where(ImportJob.id == self.job_id)
                            .values(progress={"phase": phase, "done": done, "total": total}))


def import_warc(settings: Settings, sessions: sessionmaker[Session], storage: Storage, path: Path,
                imported_by: str | None, via: str = "cli", note: str | None = None,
                source_name: str | None = None, job_id: int | None = None,
                progress: Progress | None = None) -> ImportReport:
    """Import the WARC file at `path`; never raises for bad content (see the report)."""
    path = Path(path)
    name = source_name or path.name
    if job_id is None:
        job_id = start_job(sessions, name, imported_by, via, note)
    report = ImportReport(job_id, name)
    tracker = _JobProgress(sessions, job_id, progress)
    try:
        if not path.is_file():
            report.state = FAILED
            report.message = "no such file (give the path of a .warc.gz or .warc file)"
        else:
            _run(settings, sessions, storage, path, imported_by, via, note, report, tracker)
    except KeyboardInterrupt:
        report.state, report.capture_ids, report.warc_file = FAILED, [], None
        report.message = "interrupted before the catalogue was written: nothing of it was catalogued"
        _finish_job(sessions, report)
        raise
    except Exception as exc:
        log.exception("import %s of %s failed", job_id, name)
        report.state, report.capture_ids, report.warc_file = FAILED, [], None
        report.message = f"the import failed: {type(exc).__name__}: {exc}; nothing of it was catalogued"
    if report.state == FAILED or not report.capture_ids:
        _finish_job(sessions, report)          # on success the catalogue transaction did it
    return report


def _run(settings, sessions, storage, path: Path, imported_by, via, note, report: ImportReport,
         progress: _JobProgress) -> None:
    work = settings.data_dir / "imports" / "work"
    work.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=work, prefix="import-", suffix=".warc.gz")
    kept_path = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            scan = scan_source(path, out, settings.warc_gzip_level,
                               progress=lambda done, total: progress("reading", done, total))
        report.source_sha256, report.source_size = scan.sha256, scan.size
        report.problems = [str(p) for p in scan.problems]
        plans = plan_captures(scan.records)
        new, report.duplicates = _new_plans(sessions, plans)
        if not new:
            report.message = _nothing_new(scan, plans, report)
            if scan.problems and not plans:
                report.state = FAILED
            return
        now = _now()
        stored_name = _stored_name(now, scan.sha256, report.source_name)
        captures = _read_captures(settings, kept_path, new, scan, report, imported_by, via, note,
                                  stored_name, now, progress)
        size, sha256 = file_sha256(kept_path)
        stored = storage.put(stored_name, kept_path, move=True)
        if (stored.size, stored.sha256) != (size, sha256):
            storage.delete(stored_name)
            raise OSError(f"storage holds {stored.size} bytes sha256 {stored.sha256} for {stored_name}, "
                          f"but the file had {size} bytes sha256 {sha256}")
        try:
            _catalogue(settings, sessions, storage, stored, len(scan.records), new, captures, report,
                       imported_by, via, now)
        except Exception:
            storage.delete(stored_name)       # nothing refers to it: leave no untracked file
            raise
        report.warc_file = stored_name
        _index(settings, storage, stored_name, new)
    finally:
        kept_path.unlink(missing_ok=True)


def _new_plans(sessions, plans: list[Planned]) -> tuple[list[Planned], int]:
    """The plans whose main record is not catalogued yet; records already catalogued (a
    request shared with an earlier import) are left out of the new ones."""
    ids = [r.record_id for p in plans for r in p.records]
    known: set[str] = set()
    with sessions() as session:
        for start in range(0, len(ids), IN_CLAUSE):
            chunk = ids[start:start + IN_CLAUSE]
            known.update(session.scalars(select(CaptureRecord.record_id).where(CaptureRecord.record_id.in_(chunk))))
    new = []
    for plan in plans:
        if plan.main.record_id in known:
            continue
        plan.related = [r for r in plan.related if r.record_id not in known]
        new.append(plan)
    return new, len(plans) - len(new)


def _nothing_new(scan: ScanResult, plans: list[Planned], report: ImportReport) -> str:
    if plans:
        return (f"already imported: all {len(plans)} responses of this file are in the catalogue "
                "(same WARC-Record-ID); nothing was added")
    if scan.records:
        return "the file holds no response or resource record of an http(s) URI: nothing to import"
    return "no readable WARC record in the file: nothing was imported"


def _stored_name(now: datetime, sha256: str, source_name: str) -> str:
    stem = Path(source_name).name
    for suffix in (".gz", ".warc"):
        stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
    stem = _UNSAFE.sub("_", stem).strip("._-")[:60] or "warc"
    return f"import-{now.strftime('%Y%m%d%H%M%S%f')}-{sha256[:12]}-{stem}.warc.gz"


def _warcinfos(scan: ScanResult) -> dict[str, dict]:
    return {r.record_id: {"record_id": r.record_id, "warc_date": r.warc_date, "fields": r.fields or {}}
            for r in scan.records if r.rec_type == "warcinfo"}


def _read_captures(settings, kept_path: Path, plans: list[Planned], scan: ScanResult,
                   report: ImportReport, imported_by, via, note, stored_name: str, now: datetime,
                   progress) -> list:
    infos = _warcinfos(scan)
    first_info = next(iter(infos.values()), None)
    software = software_versions()
    source = {"filename": report.source_name, "sha256": scan.sha256, "size": scan.size}
    captures = []
    with open(kept_path, "rb") as handle:
        for done, plan in enumerate(plans, 1):
            handle.seek(plan.main.offset)
            member = handle.read(plan.main.length)
            fields = capture_fields(plan, member, settings.max_decoded_bytes)
            imported = {
                "import_id": report.import_id, "fetched_by": "another tool (not by this archive)",
                "imported_by": imported_by, "via": via, "imported_at": now.isoformat(),
                "source": source, "stored_as": stored_name,
                "record_id": plan.main.record_id, "source_offset": plan.main.source_offset,
                "warc_date": plan.main.warc_date, "copied_verbatim": all(r.verbatim for r in plan.records),
                "added_block_digest": [r.record_id for r in plan.records if r.added_block_digest],
                "warcinfo": infos.get(plan.main.warcinfo_id or "", first_info),
            }
            captures.append(new_capture(fields, imported, imported_by,
                                        note or f"imported from {report.source_name}",
                                        now, settings.hostname, software))
            progress("cataloguing", done, len(plans))
    return captures


def import_agent(imported_by: str | None, via: str, import_id: int, hostname: str) -> dict:
    versions = software_versions()
    return {"kind": "import", "by": imported_by, "via": via, "import_id": import_id, "host": hostname,
            "software": f"{versions['name']} {versions['version']}"}


def _catalogue(settings, sessions, storage, stored, record_count: int, plans: list[Planned],
               captures: list, report: ImportReport, imported_by, via, now: datetime) -> None:
    agent = import_agent(imported_by, via, report.import_id, settings.hostname)
    with transaction(sessions) as session:
        warc = WarcFile(filename=stored.key, state="sealed", storage_backend=storage.name,
                        storage_key=stored.key, size=stored.size, sha256=stored.sha256,
                        record_count=record_count, hostname=settings.hostname, opened_at=now,
                        sealed_at=now)
        session.add(warc)
        session.flush()
        index = search_index_for(session)
        for plan, capture in zip(plans, captures):
            capture.warc_file_id = warc.id
            previous = previous_capture(session, capture)
            capture.change = compare(capture, previous)
            capture.previous_id = previous.id if previous else None
            session.add(capture)
            session.flush()
            rows = [CaptureRecord(capture_id=capture.id, warc_file_id=warc.id, record_type=r.rec_type,
                                  record_id=r.record_id, target_uri=r.target_uri, offset=r.offset,
                                  length=r.length, block_digest=r.block_digest,
                                  payload_digest=r.payload_digest, requisite=False)
                    for r in plan.records]
            session.add_all(rows)
            session.flush()
            index.index(session, capture.id)
            _log_events(session, agent, capture, warc.filename, rows)
            report.capture_ids.append(capture.id)
        report.warc_file = warc.filename
        report.message = _summary(report)
        _update_job(session, report, warc.id)


def _log_events(session: Session, agent: dict, capture, filename: str, rows: list[CaptureRecord]) -> None:
    """`imported` (where it came from), then `text_extracted` and `stored` as for a capture
    of ours, under one take of the append lock."""
    facts = capture.imported
    imported = NewEntry("imported", agent, {
        "source": facts["source"], "record_id": facts["record_id"],
        "source_offset": facts["source_offset"], "warc_date": facts["warc_date"],
        "warcinfo_id": (facts.get("warcinfo") or {}).get("record_id"),
        "target_uri": capture.requested_url, "http_status": capture.http_status,
        "payload_sha256": capture.payload_sha256, "payload_size": capture.payload_size,
    }, capture.id)
    append_all(session, [imported, *outcome_entries(capture, agent, rows, filename)])


def _index(settings: Settings, storage: Storage, filename: str, plans: list[Planned]) -> None:
    """Make the captures replayable. Their records are durable and catalogued already, so a
    failure here is logged, not fatal: `archiver reindex` rebuilds the index."""
    try:
        lines = capture_lines(settings, storage, filename, [r for p in plans for r in p.records])
        add_lines(settings, [filename], lines)
    except Exception:
        log.exception("imported captures stored but not added to the replay index; run `archiver reindex`")


def _summary(report: ImportReport) -> str:
    parts = [f"{len(report.capture_ids)} captures imported"]
    if report.duplicates:
        parts.append(f"{report.duplicates} responses were in the catalogue already")
    if report.problems:
        parts.append(f"{len(report.problems)} damaged parts skipped")
    return "; ".join(parts)


def _update_job(session: Session, report: ImportReport, warc_file_id: int | None) -> None:
    job = session.get(ImportJob, report.import_id)
    job.state = report.state
    job.source_sha256, job.source_size = report.source_sha256, report.source_size
    job.warc_file_id = warc_file_id
    job.captures, job.duplicates, job.skipped = len(report.capture_ids), report.duplicates, len(report.problems)
    job.problems = report.problems[:MAX_PROBLEMS_KEPT] or None
    job.capture_ids = report.capture_ids or None
    job.message = report.message or _summary(report)
    job.finished_at = _now()
    if job.progress:
        job.progress = {**job.progress, "done": job.progress.get("total", 0)}


def _finish_job(sessions, report: ImportReport) -> None:
    with transaction(sessions) as session:
        _update_job(session, report, None)

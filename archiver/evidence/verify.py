"""`archiver verify <id>` and /api/v1/captures/<id>/verify: a capture's records re-hashed
and checked against the catalogue, against the evidence log, and the log against a signed
head. Each check is reported with pass or fail and the reason (archiver.verifier.report).

1. records: each record read back by byte range, its block and payload digests recomputed
   (a digest that could not be checked fails);
2. catalogue: each record's id and digests as the catalogue has them;
3. log entries: the capture's `stored`/`revisit` entry re-hashed against its leaf hash;
4. records against the log: the entry lists exactly the catalogue's records with the same
   digests;
5. inclusion: the entry's inclusion proof against the latest signed head (a head is signed
   first when none covers the entry yet);
6. signed head: the head's signature with the archive's public key.
"""
from __future__ import annotations

import base64
import hashlib
import zlib

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archiver.config import Settings
from archiver.ledger.keys import HeadSignatureError, load_or_create_key, verify_head
from archiver.ledger.log import entry_bytes, inclusion, latest_head, sign_current_head
from archiver.ledger.merkle import ProofError, leaf_hash, verify_inclusion
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture, CaptureRecord
from archiver.verifier.report import Report
from archiver.warc.reader import parse_record, record_bytes
from storage import Storage

CHUNK = 1024 * 1024
# the entries that list a capture's records: stored, revisit, or failed for a capture kept as
# evidence (archiver/ledger/events.py)
RECORD_EVENTS = ("stored", "revisit", "failed")


class UnknownCapture(LookupError):
    pass


def _block_digest_of_member(data: bytes) -> str | None:
    raw = zlib.decompress(data, zlib.MAX_WBITS + 16)
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    record = parse_record(data)
    size = int(record.rec_headers.get_header("Content-Length") or 0)
    return "sha256:" + base64.b32encode(hashlib.sha256(raw[end + 4:end + 4 + size]).digest()).decode("ascii")


def _rehash(storage: Storage, settings: Settings, rec: CaptureRecord) -> tuple[dict | None, str | None]:
    """(what the record's bytes say, None) or (None, the problem)."""
    label = f"{rec.record_type} record {rec.record_id}"
    try:
        data = record_bytes(storage, settings, rec.warc_file.filename, rec.offset, rec.length)
    except KeyError:
        return None, f"{label}: {rec.warc_file.filename} is not in storage"
    if len(data) != rec.length:
        return None, f"{label}: storage gave {len(data)} of its {rec.length} bytes"
    try:
        record = parse_record(data, check_digests=True)
        while record.raw_stream.read(CHUNK):
            pass
        headers = record.rec_headers
        found = {"id": headers.get_header("WARC-Record-ID"),
                 "block_digest": headers.get_header("WARC-Block-Digest"),
                 "payload_digest": headers.get_header("WARC-Payload-Digest")}
        if record.rec_type == "revisit":
            if _block_digest_of_member(data) != found["block_digest"]:
                return found, f"{label}: its block digest does not match its bytes"
        else:
            checker = record.digest_checker
            if checker.problems:
                return found, f"{label}: " + "; ".join(checker.problems)
            if checker.passed is not True:
                return found, f"{label}: its digests could not be checked"
    except Exception as exc:  # noqa: BLE001  (damaged bytes are a finding)
        return None, f"{label} cannot be read: {type(exc).__name__}: {exc}"
    return found, None


def verify_capture(sessions: sessionmaker[Session], settings: Settings, storage: Storage,
                   capture_id: int, sign_if_needed: bool = True) -> Report:
    report = Report()
    with sessions() as session:
        capture = session.scalars(select(Capture).where(Capture.id == capture_id).options(
            selectinload(Capture.records).selectinload(CaptureRecord.warc_file))).first()
        if capture is None:
            raise UnknownCapture(f"no capture with id {capture_id}")
        records = list(capture.records)
        entries = session.scalars(select(LedgerEntry).where(
            LedgerEntry.capture_id == capture_id, LedgerEntry.event.in_(RECORD_EVENTS))
            .order_by(LedgerEntry.position)).all()
        entries = [e for e in entries if "records" in (e.details or {})]
        session.expunge_all()
    if not records:
        report.failed("records", f"capture {capture_id} has no WARC records (state: {capture.state}): "
                                 "there is nothing to verify")
        return report

    # 1 and 2: the bytes, then the catalogue
    found: dict[int, dict] = {}
    problems, catalogue = [], []
    for rec in records:
        result, problem = _rehash(storage, settings, rec)
        if problem:
            problems.append(problem)
        if result is None:
            continue
        found[rec.id] = result
        if result["id"] != rec.record_id:
            catalogue.append(f"at {rec.warc_file.filename}:{rec.offset} is {result['id']}, "
                             f"the catalogue expects {rec.record_id}")
        for field in ("block_digest", "payload_digest"):
            if (getattr(rec, field) or None) != (result[field] or None):
                catalogue.append(f"{rec.record_type} record {rec.record_id}: its {field.replace('_', ' ')} "
                                 f"is {result[field]}, the catalogue recorded {getattr(rec, field)}")
    report.judge("record digests", problems, f"{len(records)} records read back; every block and payload "
                                             "digest recomputed and matching")
    if catalogue or len(found) < len(records):
        unread = len(records) - len(found)
        report.failed("records against the catalogue", "; ".join(
            catalogue + ([f"{unread} record(s) could not be read"] if unread else [])))
    else:
        report.passed("records against the catalogue", "every record is where the catalogue says, "
                                                        "with the digests it recorded")

    # 3 and 4: the log's entry
    if not entries:
        report.failed("log entries", f"the evidence log has no entry listing the records of capture {capture_id}")
        return report
    edited = [e for e in entries if leaf_hash(entry_bytes(e)) != bytes(e.leaf_hash)]
    if edited:
        report.failed("log entries", "; ".join(f"entry {e.position} ({e.event}) was edited: its content "
                                                "no longer matches its leaf hash" for e in edited))
    else:
        report.passed("log entries", "entries " + ", ".join(str(e.position) for e in entries)
                      + " re-hashed: each matches its leaf hash")
    entry = entries[-1]
    logged = {r.get("id"): r for r in (entry.details or {}).get("records", [])}
    mismatch = []
    for rec in records:
        item = logged.get(rec.record_id)
        actual = found.get(rec.id, {})
        if item is None:
            mismatch.append(f"{rec.record_type} record {rec.record_id} is not in log entry {entry.position}")
            continue
        for field in ("block_digest", "payload_digest"):
            if (item.get(field) or None) != (actual.get(field) or getattr(rec, field) or None):
                mismatch.append(f"{rec.record_type} record {rec.record_id}: log entry {entry.position} "
                                f"recorded {field.replace('_', ' ')} {item.get(field)}, the bytes have "
                                f"{actual.get(field)}")
    extra = set(logged) - {r.record_id for r in records}
    mismatch.extend(f"log entry {entry.position} lists record {r}, which the catalogue does not have"
                    for r in sorted(extra))
    if mismatch:
        report.failed("records against the log", "; ".join(mismatch))
    else:
        report.passed("records against the log", f"log entry {entry.position} ({entry.event}) lists "
                                                  "exactly these records with these digests")

    # 5 and 6: the entry in a signed head, and the head's signature
    key = load_or_create_key(settings.data_dir)
    with sessions() as session:
        head = latest_head(session)
    if (head is None or head.size <= entry.position) and sign_if_needed:
        head = sign_current_head(sessions, key)
    if head is None or head.size <= entry.position:
        report.failed("inclusion proof", f"no signed head covers log entry {entry.position} yet")
        return report
    with sessions() as session:
        proof = inclusion(session, entry.position, head)
    try:
        verify_inclusion(entry.position, head.size, bytes(entry.leaf_hash), proof, head.root)
        report.passed("inclusion proof", f"log entry {entry.position} is in the signed log of {head.size} "
                                         f"entries (root {head.root.hex()[:16]}...)")
    except ProofError as exc:
        report.failed("inclusion proof", str(exc))
    try:
        verify_head(key.public_key(), head)
        report.passed("signed head", f"the head of size {head.size} carries a valid signature of the "
                                     "archive's key")
    except HeadSignatureError as exc:
        report.failed("signed head", str(exc))
    return report

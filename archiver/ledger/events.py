"""What the capture pipeline writes into the evidence log, in the transaction that
changes the capture, so a capture's state and its entries commit together."""
from __future__ import annotations

from sqlalchemy.orm import Session

from archiver.ledger.log import NewEntry, append_rows
from archiver.models import STORED, Capture


def worker_agent(capture: Capture) -> dict:
    software = capture.software or {}
    return {"kind": "worker", "host": capture.worker_host, "task_id": capture.task_id,
            "attempt": capture.attempts,
            "software": f"{software.get('name', 'archiver')} {software.get('version', '')}".strip()}


def record_capture_events(session: Session, capture: Capture, records, warc_file: str | None) -> None:
    """`fetched`, then `text_extracted` when there is text, then `stored` or `revisit`
    (with every record's place and digests, in the WARC file named `warc_file`), or `failed`
    for a capture kept as evidence."""
    # one take of the append lock for the three: consecutive positions, one INSERT
    append_rows(session, capture_entries(capture, records, warc_file))


def capture_entries(capture: Capture, records, warc_file: str | None) -> list[NewEntry]:
    """The entries record_capture_events appends; captures stored together append all of
    theirs at once (archiver/storing.py), each capture's still consecutive."""
    agent = worker_agent(capture)
    entries = [NewEntry("fetched", agent, {
        "requested_url": capture.requested_url, "final_url": capture.final_url,
        "http_status": capture.http_status, "server_ip": capture.server_ip,
        "server_port": capture.server_port, "cert_sha256": capture.cert_sha256,
        "payload_sha256": capture.payload_sha256, "payload_size": capture.payload_size,
        "redirects": len(capture.redirect_chain or []) - 1 if capture.redirect_chain else 0,
        "fetched_at": capture.fetched_at.isoformat() if capture.fetched_at else None,
    }, capture.id)]
    return entries + outcome_entries(capture, agent, records, warc_file)


def outcome_entries(capture: Capture, agent: dict, records, warc_file: str | None) -> list[NewEntry]:
    """`text_extracted` when there is text, then `stored`, `revisit` or `failed` with every
    record's place and digests: the entry `archiver verify` checks the records against.
    Captures and imports (archiver/importer) alike."""
    entries = []
    if capture.text_sha256:
        entries.append(NewEntry("text_extracted", agent, {"text_sha256": capture.text_sha256,
                                                          "extractor": capture.extractor}, capture.id))
    event = "failed" if capture.state != STORED else ("revisit" if capture.revisit_of else "stored")
    entries.append(NewEntry(event, agent, {
        "state": capture.state, "error_code": capture.error_code, "change": capture.change,
        "revisit_of": capture.revisit_of, "warc_file": warc_file,
        "records": [{"type": r.record_type, "id": r.record_id, "target_uri": r.target_uri,
                     "offset": r.offset, "length": r.length, "block_digest": r.block_digest,
                     "payload_digest": r.payload_digest} for r in records],
    }, capture.id))
    return entries


def record_failure(session: Session, capture: Capture) -> None:
    append_rows(session, [NewEntry("failed", worker_agent(capture), {
        "state": capture.state, "error_code": capture.error_code, "error": capture.error}, capture.id)])

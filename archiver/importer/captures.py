"""From the records of an imported file to captures: which records belong together, and
the catalogue fields of each capture read from its response (or resource) record."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from warcio.bufferedreaders import ChunkedDataReader

from archiver.extract import Extraction, extract
from archiver.importer.records import warc_date
from archiver.importer.scan import KeptRecord
from archiver.models import Capture
from archiver.sites import site_of
from archiver.warc.reader import parse_record

CHUNK = 1024 * 1024
CAPTURE_TYPES = ("response", "resource")
WEB_SCHEMES = ("http://", "https://")


@dataclass
class Planned:
    """One capture to make: its main record and the records that go with it."""
    main: KeptRecord
    related: list[KeptRecord] = field(default_factory=list)   # the request, metadata records

    @property
    def records(self) -> list[KeptRecord]:
        return sorted([self.main, *self.related], key=lambda r: r.offset)


def target(record: KeptRecord) -> str | None:
    """WARC 1.0 writers (wget) put the URI in angle brackets; WARC 1.1 does not."""
    uri = (record.target_uri or "").strip()
    if uri.startswith("<") and uri.endswith(">"):
        uri = uri[1:-1]
    return uri or None


def plan_captures(records: list[KeptRecord]) -> list[Planned]:
    """A capture per response or resource record of an http(s) URI (not wget's
    `metadata://` log records, which stay in the file as they were).

    Its request is the request record linked to it by WARC-Concurrent-To (either way), else
    the last request of the same URI before it; metadata records concurrent to it go with it."""
    planned: list[Planned] = []
    by_id = {r.record_id: r for r in records}
    # records that name another as concurrent, by the one they name: one pass, not a scan
    # of the whole file per response
    naming: dict[str, list[KeptRecord]] = {}
    for record in records:
        for other in dict.fromkeys(record.concurrent_to):
            naming.setdefault(other, []).append(record)
    taken: set[str] = set()
    last_request: dict[str, KeptRecord] = {}
    for record in records:
        uri = target(record)
        if record.rec_type == "request" and uri:
            last_request[uri] = record
        if record.rec_type not in CAPTURE_TYPES or not uri or not uri.lower().startswith(WEB_SCHEMES):
            continue
        linked = [by_id[i] for i in record.concurrent_to if i in by_id]
        linked += naming.get(record.record_id, [])
        request = next((r for r in linked if r.rec_type == "request"), None)
        if request is None and record.rec_type == "response":
            candidate = last_request.get(uri)
            if candidate is not None and candidate.record_id not in taken:
                request = candidate
        related = [r for r in linked if r.rec_type == "metadata" and r.record_id not in taken]
        if request is not None and request.record_id not in taken:
            related.insert(0, request)
        taken.update(r.record_id for r in related)
        planned.append(Planned(record, related))
    return planned


def capture_fields(plan: Planned, member: bytes, max_decoded_bytes: int) -> dict:
    """The catalogue fields of a capture, from the gzip member of its main record."""
    main = plan.main
    parsed = parse_record(member)
    url = target(main)
    fields: dict = {"requested_url": url, "final_url": url, "site": site_of(url),
                    "fetched_at": warc_date(main.warc_date),
                    "server_ip": parsed.rec_headers.get_header("WARC-IP-Address"),
                    "truncated": parsed.rec_headers.get_header("WARC-Truncated")}
    http = parsed.http_headers if main.rec_type == "response" else None
    if http is not None:
        status = (http.get_statuscode() or "").strip()
        fields["http_status"] = int(status) if status.isdigit() else None
        fields["http_headers"] = [[k, v] for k, v in http.headers]
        content_type = http.get_header("Content-Type")
        chunked = "chunked" in (http.get_header("Transfer-Encoding") or "").lower()
        location = http.get_header("Location")
    else:
        fields["http_status"], fields["http_headers"] = None, []
        content_type = parsed.rec_headers.get_header("Content-Type")
        chunked, location = False, None
    fields["content_type"] = (content_type or "")[:255] or None
    # the payload as the catalogue counts it for our own captures: without transfer framing,
    # with its content encoding (archiver/fetch/types.py)
    stream = ChunkedDataReader(parsed.raw_stream, decomp_type=None) if chunked else parsed.raw_stream
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fields["payload_size"], fields["payload_sha256"] = size, digest.hexdigest()
    fields["redirect_chain"] = [{"url": url, "status": fields["http_status"], "location": location,
                                 "ip": fields["server_ip"], "port": None,
                                 "started_at": fields["fetched_at"].isoformat()}]
    extraction = _extract(member, url, content_type, max_decoded_bytes)
    fields.update(title=extraction.title or None, text=extraction.text or None,
                  text_reason=extraction.reason, text_metadata=extraction.metadata,
                  extractor=extraction.extractor)
    document = extraction.document() if extraction.text else ""
    fields["text_sha256"] = hashlib.sha256(document.encode("utf-8")).hexdigest() if document else None
    return fields


def _extract(member: bytes, url: str, content_type: str | None, limit: int) -> Extraction:
    """The text of the payload with chunking and content encoding undone; never raises."""
    try:
        body = parse_record(member).content_stream().read(limit + 1)
    except Exception as exc:  # noqa: BLE001 - an undecodable body is a reason, not a failure
        return Extraction.failed(f"could not decode the body: {type(exc).__name__}: {exc}")
    if len(body) > limit:
        return Extraction.failed(f"the decoded body is larger than {limit} bytes (ARCHIVER_MAX_DECODED_BYTES)")
    return extract(body, url=url, content_type=content_type)


def new_capture(fields: dict, imported: dict, imported_by: str | None, note: str | None,
                now: datetime, hostname: str, software: dict) -> Capture:
    return Capture(state="stored", source="import", submitted_by=imported_by, note=note,
                   queued_at=now, started_at=now, stored_at=now, finished_at=now,
                   worker_host=hostname, attempts=1, software=software, imported=imported,
                   **fields)

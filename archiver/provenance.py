"""A capture's provenance as one JSON-able document: who asked, what answered, where the bytes are."""
from __future__ import annotations

import functools
import platform
from datetime import datetime
from importlib import metadata

from archiver import SOFTWARE_NAME, __version__
from archiver.models import Capture


def software_versions() -> dict:
    """The software that made a capture, with the versions that matter for its bytes."""
    return dict(_software_versions())


@functools.cache
def _software_versions() -> tuple[tuple[str, str | None], ...]:
    # looked up once per process: importlib.metadata scans site-packages (11 ms a call,
    # bench/capture.py); packages do not change under a running process
    versions = {"name": SOFTWARE_NAME, "version": __version__,
                "python": platform.python_version()}
    for package in ("warcio", "requests", "urllib3", "trafilatura"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return tuple(versions.items())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def capture_provenance(capture: Capture, include_storage: bool = True) -> dict:
    doc = {
        "capture_id": capture.id,
        "state": capture.state,
        "submission": {
            "source": capture.source,
            "submitted_by": capture.submitted_by,
            "remote_addr": capture.remote_addr,
            "note": capture.note,
        },
        "requested_url": capture.requested_url,
        "final_url": capture.final_url,
        "redirect_chain": capture.redirect_chain or [],
        "timings": {
            "queued_at": _iso(capture.queued_at),
            "started_at": _iso(capture.started_at),
            "fetched_at": _iso(capture.fetched_at),
            "stored_at": _iso(capture.stored_at),
            "finished_at": _iso(capture.finished_at),
        },
        "server": {
            "ip": capture.server_ip,
            "port": capture.server_port,
            "tls": None if not capture.tls_version else {
                "version": capture.tls_version,
                "cipher": capture.tls_cipher,
                "certificate": {
                    "sha256": capture.cert_sha256,
                    "subject": capture.cert_subject,
                    "issuer": capture.cert_issuer,
                    "not_before": _iso(capture.cert_not_before),
                    "not_after": _iso(capture.cert_not_after),
                },
            },
        },
        "response": {
            "status": capture.http_status,
            "headers": capture.http_headers or [],
            "content_type": capture.content_type,
            "payload_size": capture.payload_size,
            "payload_sha256": capture.payload_sha256,
            "truncated": capture.truncated,
        },
        "text": {
            "sha256": capture.text_sha256,
            "extractor": capture.extractor,
            "reason": capture.text_reason,
            "metadata": capture.text_metadata,
        },
        # what the page loads (images, stylesheets, ...): fetched and skipped, with reasons
        "requisites": capture.requisites,
        # "plain" or "browser"; a browser capture's browser name and version, user agent,
        # viewport, the requests it blocked (archiver/browser, docs/browser-capture.md)
        "mode": capture.mode or "plain",
        "browser": capture.browser,
        # against the previous stored capture of the URL (archiver/changes.py, docs/changes.md)
        "change": {"marking": capture.change, "previous_id": capture.previous_id,
                   "revisit_of": capture.revisit_of},
        "software": capture.software,
        "worker": {
            "host": capture.worker_host,
            "task_id": capture.task_id,
            "attempts": capture.attempts,
        },
        "error": None if not capture.error_code else {
            "code": capture.error_code, "message": capture.error},
    }
    if capture.imported:
        # not fetched by us: where it came from (docs/import.md)
        doc["import"] = capture.imported
    if include_storage:
        warc = capture.warc_file
        doc["storage"] = {
            "warc_file": None if warc is None else {
                "filename": warc.filename,
                "state": warc.state,
                "backend": warc.storage_backend,
                "key": warc.storage_key,
                "size": warc.size,
                "sha256": warc.sha256,
            },
            "records": [
                {"type": r.record_type, "record_id": r.record_id, "target_uri": r.target_uri,
                 "warc_filename": r.warc_file.filename if r.warc_file else None,
                 "offset": r.offset, "length": r.length,
                 "block_digest": r.block_digest, "payload_digest": r.payload_digest,
                 "refers_to": r.refers_to, "requisite": bool(r.requisite)}
                for r in capture.records
            ],
        }
    return doc

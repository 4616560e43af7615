"""Reading a browser capture's screenshot and rendered DOM back from its WARC."""
from __future__ import annotations

from archiver.browser.pipeline import DOM_URN, SCREENSHOT_URN
from archiver.config import Settings
from archiver.models import Capture, CaptureRecord
from archiver.warc import read_record

KINDS = {"screenshot": SCREENSHOT_URN, "dom": DOM_URN}


def resource_location(capture: Capture, kind: str) -> CaptureRecord | None:
    """The catalogued `resource` record of `kind` ("screenshot" or "dom"), if the capture has one."""
    prefix = KINDS[kind]
    return next((r for r in capture.records
                 if r.record_type == "resource" and (r.target_uri or "").startswith(prefix)), None)


def resource_bytes(settings: Settings, storage, capture: Capture, kind: str) -> bytes | None:
    """The block of that record, read by its offset and checked against its digest."""
    location = resource_location(capture, kind)
    if location is None:
        return None
    record = read_record(storage, settings, location.warc_file.filename, location.offset,
                         location.length, check_digests=True)
    data = record.content_stream().read()
    if record.digest_checker.problems:
        raise ValueError(f"the {kind} record of capture {capture.id} does not match its digest: "
                         f"{record.digest_checker.problems}")
    return data

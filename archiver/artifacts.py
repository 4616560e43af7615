"""Reading a capture's stored bytes back: its WARC records, by byte range."""
from __future__ import annotations

from archiver.config import Settings
from archiver.models import CaptureRecord
from archiver.warc import record_bytes


def capture_warc_bytes(settings: Settings, storage, records: list[CaptureRecord]) -> bytes:
    """A capture's records concatenated: a standalone, valid .warc.gz (each record its own gzip member)."""
    return b"".join(record_bytes(storage, settings, r.warc_file.filename, r.offset, r.length)
                    for r in records)

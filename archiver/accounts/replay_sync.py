"""Keep replay in step with a capture's visibility: a hidden capture's lines leave pywb's
index, and come back when it is public again. The WARC records are never touched."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archiver.accounts.models import CaptureRestriction
from archiver.models import CaptureRecord
from archiver.replay.index import add_lines, capture_lines, remove_lines


def sync_replay(settings, sessions, storage, capture_id: int) -> int:
    """Remove or restore the capture's index lines, as its restriction says now; returns the
    lines removed or added. Call after the transaction that changed the restriction commits."""
    with sessions() as session:
        hidden = session.get(CaptureRestriction, capture_id) is not None
        records = list(session.scalars(select(CaptureRecord).where(CaptureRecord.capture_id == capture_id)
                                       .options(selectinload(CaptureRecord.warc_file))))
        by_file: dict[str, list[CaptureRecord]] = {}
        for record in records:
            by_file.setdefault(record.warc_file.filename, []).append(record)
    lines = [line for name, group in by_file.items() for line in capture_lines(settings, storage, name, group)]
    if hidden:
        return remove_lines(settings, lines)
    add_lines(settings, list(by_file), lines)
    return len(lines)

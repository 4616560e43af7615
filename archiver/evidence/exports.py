"""`exported` events: a download of a capture's records (WARC, WACZ, evidence bundle) is
itself part of the capture's history."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from archiver.db import transaction
from archiver.ledger.log import append

FORMATS = ("warc", "wacz", "bundle")


def record_export(sessions: sessionmaker[Session], capture_ids: list[int], fmt: str, agent: dict,
                  package: str | None = None) -> list[int]:
    """One `exported` entry per capture, in one transaction; returns their positions.
    `package` names the download (its file name) so a search package's entries go together."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    with transaction(sessions) as session:
        return [append(session, "exported", agent,
                       {"format": fmt, "package": package, "captures_in_package": len(capture_ids)},
                       capture_id=capture_id).position
                for capture_id in capture_ids]

"""A capture and its log entries, loaded for its PROV and PREMIS descriptions."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archiver.ledger.log import entries_of
from archiver.ledger.models import LedgerEntry
from archiver.models import Capture, CaptureRecord


def load_description(sessions: sessionmaker[Session], capture_id: int) -> tuple[Capture, list[LedgerEntry]] | None:
    with sessions() as session:
        capture = session.scalars(select(Capture).where(Capture.id == capture_id).options(
            selectinload(Capture.records).selectinload(CaptureRecord.warc_file))).first()
        if capture is None:
            return None
        entries = list(entries_of(session, capture_id))
        session.expunge_all()
    return capture, entries

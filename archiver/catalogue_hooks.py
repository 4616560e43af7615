"""Keep the catalogue's WARC file rows in step with the writer's files."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from archiver.db import transaction
from archiver.models import WarcFile


def warc_callbacks(sessions: sessionmaker[Session], storage, hostname: str):
    def on_open(filename: str) -> None:
        with transaction(sessions) as session:
            if session.scalars(select(WarcFile).where(WarcFile.filename == filename)).first():
                return
            session.add(WarcFile(filename=filename, state="open", opened_at=datetime.now(timezone.utc),
                                 hostname=hostname))

    def on_seal(sealed) -> None:
        with transaction(sessions) as session:
            row = session.scalars(select(WarcFile).where(WarcFile.filename == sealed.key)).first()
            if row is None:
                row = WarcFile(filename=sealed.key, opened_at=datetime.now(timezone.utc),
                               hostname=hostname)
                session.add(row)
            row.state = "sealed"
            row.storage_backend = storage.name
            row.storage_key = sealed.key
            row.size = sealed.size
            row.sha256 = sealed.sha256
            row.record_count = sealed.record_count
            row.sealed_at = datetime.now(timezone.utc)

    return on_open, on_seal


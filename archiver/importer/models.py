"""One row per import: what was read, by whom, how far it got, what was found wrong."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archiver.models import Base, UTCDateTime

# An import's states: waiting for a worker (web uploads), reading, finished, failed.
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
FINAL = (DONE, FAILED)


class ImportJob(Base):
    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    via: Mapped[str] = mapped_column(String(16))                  # cli, web
    imported_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)
    source_name: Mapped[str] = mapped_column(Text)                # the file's name as given
    source_size: Mapped[int | None] = mapped_column(BigInteger)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    # a web upload waits in storage under this key until a worker imports it
    upload_key: Mapped[str | None] = mapped_column(String(512))
    # {"phase": "reading"|"cataloguing"|"indexing", "done": n, "total": n}
    progress: Mapped[dict | None] = mapped_column(JSON)
    warc_file_id: Mapped[int | None] = mapped_column(ForeignKey("warc_files.id"))
    captures: Mapped[int] = mapped_column(Integer, default=0)     # new captures
    duplicates: Mapped[int] = mapped_column(Integer, default=0)   # responses already catalogued
    skipped: Mapped[int] = mapped_column(Integer, default=0)      # damaged parts not imported
    problems: Mapped[list | None] = mapped_column(JSON)           # ["offset N, L bytes: what"]
    capture_ids: Mapped[list | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)             # the outcome, for a person
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

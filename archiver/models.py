"""The catalogue: one row per capture with its provenance, per WARC file, per WARC record."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text,
                        TypeDecorator, UniqueConstraint, Index, false)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


# Capture states, in the order a capture goes through them.
QUEUED, FETCHING, STORED, FAILED = "queued", "fetching", "stored", "failed"
FINAL_STATES = (STORED, FAILED)
SOURCES = ("form", "api", "schedule", "cli", "import")   # import: archiver/importer


class WarcFile(Base):
    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open, sealed
    storage_backend: Mapped[str | None] = mapped_column(String(32))
    storage_key: Mapped[str | None] = mapped_column(String(512))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    record_count: Mapped[int | None] = mapped_column(Integer)
    hostname: Mapped[str | None] = mapped_column(String(255))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Capture(Base):
    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    # who asked, from where, how
    source: Mapped[str] = mapped_column(String(16))
    submitted_by: Mapped[str | None] = mapped_column(String(255))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    requested_url: Mapped[str] = mapped_column(Text)
    site: Mapped[str | None] = mapped_column(String(255), index=True)  # host, for filtering
    final_url: Mapped[str | None] = mapped_column(Text)
    # what went wrong, for a person to read; error_code for programs
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # timings (UTC)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # when the task was last sent again, by the reconciler or a retry (archiver/reconcile.py)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the worker
    task_id: Mapped[str | None] = mapped_column(String(255))
    worker_host: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    software: Mapped[dict | None] = mapped_column(JSON)
    # what the server answered (final hop)
    redirect_chain: Mapped[list | None] = mapped_column(JSON)
    server_ip: Mapped[str | None] = mapped_column(String(64))
    server_port: Mapped[int | None] = mapped_column(Integer)
    tls_version: Mapped[str | None] = mapped_column(String(32))
    tls_cipher: Mapped[str | None] = mapped_column(String(128))
    cert_sha256: Mapped[str | None] = mapped_column(String(64))
    cert_subject: Mapped[str | None] = mapped_column(Text)
    cert_issuer: Mapped[str | None] = mapped_column(Text)
    cert_not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cert_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    http_status: Mapped[int | None] = mapped_column(Integer)
    http_headers: Mapped[list | None] = mapped_column(JSON)
    content_type: Mapped[str | None] = mapped_column(String(255))
    payload_size: Mapped[int | None] = mapped_column(BigInteger)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    truncated: Mapped[str | None] = mapped_column(String(16))
    # the text
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    text_reason: Mapped[str | None] = mapped_column(Text)
    text_metadata: Mapped[dict | None] = mapped_column(JSON)
    extractor: Mapped[str | None] = mapped_column(String(64))
    # the page's requisites: {"fetched": [...], "skipped": [...], "limits", "bytes"}; None for
    # a page that is not HTML (archiver/requisites.py)
    requisites: Mapped[dict | None] = mapped_column(JSON)
    # how the page was fetched: "plain", or "browser" (headless Chromium, archiver/browser);
    # for a browser capture, what the browser did: name, version, viewport, requests blocked
    mode: Mapped[str] = mapped_column(String(16), default="plain", server_default="plain")
    browser: Mapped[dict | None] = mapped_column(JSON)
    # where the bytes are
    warc_file_id: Mapped[int | None] = mapped_column(ForeignKey("warc_files.id"))
    # compared with the previous stored capture of the same URL (FIRST, UNCHANGED, ...)
    change: Mapped[str | None] = mapped_column(String(16))
    previous_id: Mapped[int | None] = mapped_column(Integer)
    revisit_of: Mapped[int | None] = mapped_column(Integer)   # the capture holding the body
    watch_id: Mapped[int | None] = mapped_column(ForeignKey("watches.id", ondelete="SET NULL"),
                                                 index=True)
    # a capture brought in from another tool's WARC (archiver/importer, docs/import.md): the
    # source file, its sha256 and warcinfo, who imported it and when; None when we fetched it
    imported: Mapped[dict | None] = mapped_column(JSON)

    warc_file: Mapped[WarcFile | None] = relationship()
    records: Mapped[list["CaptureRecord"]] = relationship(
        back_populates="capture", order_by="CaptureRecord.id", cascade="all, delete-orphan")
    # the capture whose response record holds the payload this capture's revisit repeats
    revisited: Mapped["Capture | None"] = relationship(
        primaryjoin="foreign(Capture.revisit_of) == remote(Capture.id)", viewonly=True)

    __table_args__ = (Index("ix_captures_requested_url", "requested_url"),
                      Index("ix_captures_fetched_at", "fetched_at"),
                      # the previous capture of a URL (archiver/changes.py); feeds of changes
                      Index("ix_captures_final_url", "final_url"),
                      Index("ix_captures_change_fetched_at", "change", "fetched_at"))


# How a stored capture compares with the previous stored capture of its URL.
FIRST, UNCHANGED, TEXT_UNCHANGED, CHANGED = "first", "unchanged", "text unchanged", "changed"


class Watch(Base):
    """A URL recaptured on a cron schedule."""
    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    note: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    respect_robots: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    mode: Mapped[str | None] = mapped_column(String(16))   # None: ARCHIVER_CAPTURE_MODE at each run
    # scheduling state
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_capture_id: Mapped[int | None] = mapped_column(Integer)
    last_result: Mapped[str | None] = mapped_column(String(16))   # a RUN_RESULTS value
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# How a watch run ended: the capture was stored (HTTP < 400), it failed or got an HTTP error,
# robots.txt disallowed it, or the capture could not be queued.
RUN_OK, RUN_FAILED, RUN_ROBOTS, RUN_UNQUEUED = "ok", "failed", "robots", "unqueued"
RUN_RESULTS = (RUN_OK, RUN_FAILED, RUN_ROBOTS, RUN_UNQUEUED)


class WatchRun(Base):
    """One claimed schedule slot of a watch. (watch, slot) is unique: that is the claim."""
    __tablename__ = "watch_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"))
    slot: Mapped[datetime] = mapped_column(UTCDateTime())
    capture_id: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatcher: Mapped[str | None] = mapped_column(String(255))
    # how the slot ended (RUN_RESULTS); None while its capture is still running
    result: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("watch_id", "slot", name="uq_watch_runs_watch_slot"),)


class WebhookDelivery(Base):
    """One alert sent (or being sent) to a watch's webhook."""
    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), index=True)
    capture_id: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)            # the exact JSON body signed and sent
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # every attempt: [{"attempt": n, "at": iso time, "status": int|null, "error": str|null}]
    attempt_log: Mapped[list | None] = mapped_column(JSON)


class CaptureRecord(Base):
    """One WARC record of a capture: where it is, byte for byte."""
    __tablename__ = "capture_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), index=True)
    warc_file_id: Mapped[int] = mapped_column(ForeignKey("warc_files.id"))
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(64))
    target_uri: Mapped[str | None] = mapped_column(Text)
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(BigInteger)
    block_digest: Mapped[str | None] = mapped_column(String(80))
    payload_digest: Mapped[str | None] = mapped_column(String(80))
    refers_to: Mapped[str | None] = mapped_column(String(64))
    # a record of one of the page's requisites (an image, a stylesheet...), not of the page
    requisite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    capture: Mapped[Capture] = relationship(back_populates="records")
    warc_file: Mapped[WarcFile] = relationship()

    # raw replay finds a URL's records by this (migration 0011; hash: URLs outgrow B-tree entries)
    __table_args__ = (UniqueConstraint("record_id"),
                      Index("ix_capture_records_target_uri", "target_uri", postgresql_using="hash"))

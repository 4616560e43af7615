"""The evidence log's tables: entries (the leaves) and signed tree heads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from archiver.models import Base, UTCDateTime


class LedgerEntry(Base):
    """One event; `position` is its leaf index in the Merkle tree, from 0, without gaps."""
    __tablename__ = "ledger_entries"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(32), index=True)
    capture_id: Mapped[int | None] = mapped_column(Integer, index=True)
    agent: Mapped[dict] = mapped_column(JSON)        # who or what did it, and with which software
    details: Mapped[dict] = mapped_column(JSON)      # digests, states, reasons: no floats
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerHead(Base):
    """A signed tree head: the log had `size` entries with this root at this time."""
    __tablename__ = "ledger_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class LedgerPending(Base):
    """An event written but not yet given its position (archiver.ledger.log.append_later)."""
    __tablename__ = "ledger_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(32))
    capture_id: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[dict] = mapped_column(JSON)
    details: Mapped[dict] = mapped_column(JSON)

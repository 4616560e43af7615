"""Whether a capture's final response is written in full or as a `revisit` record.

The decision is a small policy object, as in pywb's recorder: given the new response's
payload digest and the earlier response it could repeat, it answers with that earlier
record (write a revisit pointing at it) or None (write the response in full).
`ARCHIVER_DEDUP` chooses the policy (docs/changes.md).

    policy = dedup_policy(settings)
    original = original_response(settings, storage, session, previous)   # or None
    revisit = policy.decide(candidate_of(final_exchange), original)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.config import Settings
from archiver.fetch.types import Exchange
from archiver.models import STORED, Capture, CaptureRecord, WarcFile
from archiver.warc.reader import record_headers
from archiver.warc.records import Revisit, response_payload_digest


@dataclass(frozen=True)
class Candidate:
    """The new final response, as the policy sees it."""
    payload_digest: str            # WARC-Payload-Digest it would have (sha256:base32)
    truncated: str | None          # WARC-Truncated reason, if it was cut short


@dataclass(frozen=True)
class Original(Revisit):
    """An earlier response record a revisit can point at, and the capture holding it."""
    capture_id: int = 0
    truncated: bool = False


class DedupPolicy(Protocol):
    name: str

    def decide(self, candidate: Candidate, original: Original | None) -> Original | None:
        """The record to write a revisit of, or None to write the response in full."""


class RevisitIdenticalPayload:
    """A revisit when the payload is byte for byte the one of the previous capture."""
    name = "revisit"

    def decide(self, candidate: Candidate, original: Original | None) -> Original | None:
        if original is None or candidate.truncated or original.truncated:
            return None
        return original if candidate.payload_digest == original.payload_digest else None


class KeepEverything:
    """Every response in full, as if each capture were the first."""
    name = "keep"

    def decide(self, candidate: Candidate, original: Original | None) -> Original | None:
        return None


POLICIES = {p.name: p for p in (RevisitIdenticalPayload, KeepEverything)}


def dedup_policy(settings: Settings) -> DedupPolicy:
    return POLICIES[settings.dedup]()


def candidate_of(exchange: Exchange) -> Candidate | None:
    """The final response as a candidate; None when it has no bytes to compare."""
    payload_digest = response_payload_digest(exchange)    # the fetcher's, where it can be
    if payload_digest is None:
        return None
    return Candidate(payload_digest=payload_digest, truncated=exchange.truncated)


def original_response(settings: Settings, storage, session: Session,
                      previous: Capture | None) -> Original | None:
    """The response record holding `previous`'s payload: its own final response, or, when
    `previous` is itself a revisit, the one it points at. Read back from its WARC file,
    so what the revisit refers to is what is really on disk."""
    if previous is None or previous.state != STORED:
        return None
    holder = session.get(Capture, previous.revisit_of) if previous.revisit_of else previous
    if holder is None or holder.state != STORED or not holder.final_url:
        return None
    row = session.execute(
        select(CaptureRecord, WarcFile.filename)
        .join(WarcFile, WarcFile.id == CaptureRecord.warc_file_id)
        .where(CaptureRecord.capture_id == holder.id, CaptureRecord.record_type == "response",
               CaptureRecord.target_uri == holder.final_url, CaptureRecord.requisite.is_(False))
        .order_by(CaptureRecord.offset.desc()).limit(1)).first()
    if row is None or not row[0].payload_digest:
        return None
    record, filename = row
    headers = record_headers(storage, settings, filename, record.offset, record.length)
    if headers.get_header("WARC-Record-ID") != record.record_id:
        return None
    return Original(record_id=record.record_id,
                    target_uri=headers.get_header("WARC-Target-URI"),
                    date=headers.get_header("WARC-Date"),
                    payload_digest=headers.get_header("WARC-Payload-Digest"),
                    capture_id=holder.id,
                    truncated=bool(headers.get_header("WARC-Truncated")))

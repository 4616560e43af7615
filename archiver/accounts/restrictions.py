"""Hiding a capture (private, taken down) and showing it again, each an evidence-log event
in the same transaction. The WARC bytes and the catalogue row are never touched."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from archiver.accounts.models import PRIVATE, RESTRICTIONS, TAKEN_DOWN, CaptureRestriction
from archiver.accounts.roles import Viewer, owner_of
from archiver.ledger.log import append
from archiver.models import Capture

EVENTS = {PRIVATE: "made_private", TAKEN_DOWN: "taken_down"}
MAX_REASON_CHARS = 5000


class RestrictionError(ValueError):
    pass


def restrict(session: Session, capture: Capture, kind: str, reason: str, viewer: Viewer,
             now: datetime | None = None) -> CaptureRestriction:
    if kind not in RESTRICTIONS:
        raise RestrictionError(f"kind must be one of {', '.join(RESTRICTIONS)}")
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise RestrictionError(f"a reason of 1 to {MAX_REASON_CHARS} characters is required: "
                               "it is recorded in the evidence log")
    now = now or datetime.now(timezone.utc)
    row = session.get(CaptureRestriction, capture.id)
    previous = row.kind if row else None
    if row is None:
        row = CaptureRestriction(capture_id=capture.id)
        session.add(row)
    row.kind, row.reason, row.set_by, row.set_at = kind, reason, viewer.email or viewer.role, now
    row.owner = owner_of(capture.submitted_by) if kind == PRIVATE else None
    if kind == PRIVATE and viewer.email and not viewer.is_admin:
        row.owner = viewer.email
    append(session, EVENTS[kind], viewer.agent(),
           {"reason": reason, "previous": previous, "owner": row.owner}, capture_id=capture.id, now=now)
    session.flush()
    return row


def lift(session: Session, capture: Capture, reason: str, viewer: Viewer,
         now: datetime | None = None) -> bool:
    """Make a hidden capture public again ("reinstated"); False when it was not hidden."""
    row = session.get(CaptureRestriction, capture.id)
    if row is None:
        return False
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if len(reason) > MAX_REASON_CHARS:
        raise RestrictionError(f"the reason has more than {MAX_REASON_CHARS} characters")
    append(session, "reinstated", viewer.agent(), {"reason": reason or None, "previous": row.kind},
           capture_id=capture.id, now=now)
    session.delete(row)
    session.flush()
    return True

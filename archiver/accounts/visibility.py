"""Which captures a viewer may see, and who may hide or show one again.

A capture without a restriction is public. A private one is seen by its owner (the
archivist who submitted or hid it) and admins; a taken-down one by admins only.
"""
from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from archiver.accounts.models import PRIVATE, TAKEN_DOWN, CaptureRestriction
from archiver.accounts.roles import SUBMIT, Viewer, owner_of
from archiver.models import Capture


def hidden_ids(viewer: Viewer):
    """A subquery of the capture ids `viewer` may not see (None: sees everything)."""
    if viewer.is_admin:
        return None
    query = select(CaptureRestriction.capture_id)
    if viewer.email:
        query = query.where(or_(CaptureRestriction.kind == TAKEN_DOWN,
                                and_(CaptureRestriction.kind == PRIVATE,
                                     or_(CaptureRestriction.owner.is_(None),
                                         CaptureRestriction.owner != viewer.email))))
    return query


def visible(query, viewer: Viewer):
    """`query` (a select of Capture) narrowed to what `viewer` may see."""
    hidden = hidden_ids(viewer)
    return query if hidden is None else query.where(Capture.id.not_in(hidden))


def may_see(session: Session, viewer: Viewer, capture_id: int) -> bool:
    restriction = session.get(CaptureRestriction, capture_id)
    return restriction is None or may_see_restricted(viewer, restriction)


def may_see_restricted(viewer: Viewer, restriction: CaptureRestriction) -> bool:
    if viewer.is_admin:
        return True
    return (restriction.kind == PRIVATE and viewer.email is not None
            and restriction.owner == viewer.email)


def visible_ids(session: Session, viewer: Viewer, ids: list[int]) -> set[int]:
    """Which of `ids` the viewer may see."""
    if viewer.is_admin or not ids:
        return set(ids)
    hidden = set(session.scalars(hidden_ids(viewer).where(CaptureRestriction.capture_id.in_(ids))))
    return {i for i in ids if i not in hidden}


def may_restrict(viewer: Viewer, capture: Capture, kind: str,
                 current: CaptureRestriction | None) -> str | None:
    """None when `viewer` may set `kind` (or, kind None, lift the restriction); else why not."""
    if viewer.is_admin:
        return None
    if not viewer.may(SUBMIT) or viewer.email is None:
        return "only a logged-in archivist or an admin may hide a capture"
    if kind == TAKEN_DOWN or (current is not None and current.kind == TAKEN_DOWN):
        return "only an admin may take a capture down or reinstate it"
    if owner_of(capture.submitted_by) != viewer.email and (current is None or current.owner != viewer.email):
        return "an archivist may make private only the captures they submitted"
    return None


def capture_and_restriction(session: Session, viewer: Viewer, capture_id: int):
    """(capture, its current restriction or None) for a change of its visibility; the
    capture is None when it does not exist or `viewer` may not see it."""
    capture = session.scalars(visible(select(Capture), viewer).where(Capture.id == capture_id)).first()
    return capture, (session.get(CaptureRestriction, capture_id) if capture is not None else None)

"""Pages for people: the submission form, progress of a submission, one capture."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archiver.accounts import visibility
from archiver.accounts.models import CaptureRestriction
from archiver.accounts.replay_sync import sync_replay
from archiver.accounts.restrictions import RestrictionError, lift, restrict
from archiver.db import transaction
from archiver.models import Capture, CaptureRecord
from archiver.provenance import capture_provenance
from archiver.submissions import SubmissionError, Submitter, submit_captures
from archiver.web import parse_ids, services
from archiver.web.auth import submission_limit, viewer
from workers.app import send_capture, send_capture_batch

bp = Blueprint("ui", __name__)


def _recent(limit: int = 20) -> list[Capture]:
    with services().sessions() as session:
        return list(session.scalars(visibility.visible(select(Capture), viewer())
                                    .order_by(Capture.id.desc()).limit(limit)))


@bp.get("/")
def index():
    return render_template("index.html", recent=_recent(), error=None, urls="", note="",
                           mode=services().settings.capture_mode)


@bp.post("/captures")
def submit():
    urls_text = request.form.get("urls", "")
    note = request.form.get("note", "")
    urls = [line.strip() for line in urls_text.splitlines() if line.strip()]
    svc = services()
    mode = request.form.get("mode") or svc.settings.capture_mode     # plain or browser
    who = viewer()
    submission_limit(who)
    try:
        captures = submit_captures(
            svc.sessions, urls, note or None,
            Submitter(source="form", submitted_by=who.submitted_by, remote_addr=request.remote_addr),
            enqueue=lambda capture_id: send_capture(svc.celery, capture_id),
            enqueue_batch=lambda ids: send_capture_batch(svc.celery, ids),
            batch_size=svc.settings.capture_batch,
            max_urls=svc.settings.max_urls_per_submission, mode=mode)
    except SubmissionError as exc:
        return render_template("index.html", recent=_recent(), error=str(exc), urls=urls_text,
                               note=note, mode=mode), 400
    return redirect(url_for("ui.progress", ids=",".join(str(c.id) for c in captures)), code=303)


@bp.get("/captures")
def progress():
    ids = parse_ids(request.args.get("ids", ""))
    if ids is None:
        abort(400, description="ids must be a comma-separated list of capture ids, e.g. ?ids=1,2,3")
    with services().sessions() as session:
        captures = list(session.scalars(visibility.visible(select(Capture), viewer())
                                        .where(Capture.id.in_(ids)).order_by(Capture.id)))
    return render_template("progress.html", captures=captures, ids=",".join(map(str, ids)))


@bp.get("/captures/<id:capture_id>")
def capture_page(capture_id: int):
    with services().sessions() as session:
        capture = session.scalars(visibility.visible(select(Capture), viewer())
                                  .where(Capture.id == capture_id).options(
            selectinload(Capture.records).selectinload(CaptureRecord.warc_file),
            selectinload(Capture.warc_file))).first()
        if capture is None:
            abort(404, description=f"no capture with id {capture_id}")
        restriction = session.get(CaptureRestriction, capture_id)
        return render_template("capture.html", capture=capture, restriction=restriction,
                               provenance=capture_provenance(capture))


@bp.get("/about")
def about():
    return render_template("about.html", settings=services().settings)


def _restriction_change(capture_id: int, change) -> None:
    who = viewer()
    with transaction(services().sessions) as session:
        capture, current = visibility.capture_and_restriction(session, who, capture_id)
        if capture is None:
            abort(404, description=f"no capture with id {capture_id}")
        kind = request.form.get("kind") if change is restrict else None
        refused = visibility.may_restrict(who, capture, kind, current)
        if refused:
            abort(403, description=refused)
        try:
            if change is restrict:
                restrict(session, capture, kind, request.form.get("reason", ""), who)
            else:
                lift(session, capture, request.form.get("reason", ""), who)
        except RestrictionError as exc:
            abort(400, description=str(exc))
    svc = services()
    sync_replay(svc.settings, svc.sessions, svc.storage, capture_id)    # after the commit


@bp.post("/captures/<id:capture_id>/restriction")
def restrict_capture(capture_id: int):
    """Hide a capture (private, or taken down by an admin), with the reason."""
    _restriction_change(capture_id, restrict)
    return redirect(url_for("ui.capture_page", capture_id=capture_id), code=303)


@bp.post("/captures/<id:capture_id>/restriction/delete")
def unrestrict_capture(capture_id: int):
    _restriction_change(capture_id, lift)
    return redirect(url_for("ui.capture_page", capture_id=capture_id), code=303)

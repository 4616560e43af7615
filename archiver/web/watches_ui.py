"""Pages for watches: the list with its create form, one watch with its history of runs."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from archiver.db import transaction
from archiver.models import Watch
from archiver.watches import WatchError, create_watch, delete_watch, update_watch, watches
from archiver.watches.schedule import ScheduleError, check_timezone
from archiver.watches.service import runs
from archiver.web import row_or_404, services

bp = Blueprint("watches_ui", __name__)


@bp.app_template_filter("in_zone")
def in_zone(moment, zone: str) -> str:
    """A UTC time as wall-clock time in the watch's zone, e.g. '06:00 Europe/Paris'."""
    try:
        return moment.astimezone(check_timezone(zone)).strftime(f"%Y-%m-%d %H:%M %Z, {zone}")
    except ScheduleError:
        return zone

EMPTY_FORM = {"url": "", "cron": "0 */6 * * *", "timezone": "UTC", "note": "", "owner": "",
              "respect_robots": True, "enabled": True, "webhook_url": "", "mode": None}


def _form_fields() -> dict:
    """The watch form as service fields: checkboxes are present when ticked."""
    form = request.form
    return {"url": form.get("url", ""), "cron": form.get("cron", ""),
            "timezone": form.get("timezone", "") or "UTC", "note": form.get("note", ""),
            "owner": form.get("owner", ""), "respect_robots": "respect_robots" in form,
            "enabled": "enabled" in form, "webhook_url": form.get("webhook_url", ""),
            "mode": form.get("mode") or None}        # "": the default mode


def _list_page(error: str | None = None, form: dict | None = None, status: int = 200):
    with services().sessions() as session:
        rows = watches(session)
    return render_template("watches.html", watches=rows, error=error,
                           form=form or EMPTY_FORM), status


def _get(session, watch_id: int) -> Watch:
    return row_or_404(session, Watch, watch_id, "watch")


@bp.get("/watches")
def list_page():
    return _list_page()


@bp.post("/watches")
def create():
    fields = _form_fields()
    try:
        with transaction(services().sessions) as session:
            watch = create_watch(session, fields, owner=None)
    except WatchError as exc:
        return _list_page(str(exc), fields, 400)
    return redirect(url_for("watches_ui.watch_page", watch_id=watch.id), code=303)


@bp.get("/watches/<id:watch_id>")
def watch_page(watch_id: int):
    with services().sessions() as session:
        watch = _get(session, watch_id)
        return render_template("watch.html", watch=watch, runs=runs(session, watch_id),
                               error=None, form=None)


@bp.post("/watches/<id:watch_id>/edit")
def edit(watch_id: int):
    fields = _form_fields()
    try:
        with transaction(services().sessions) as session:
            update_watch(session, _get(session, watch_id), fields)
    except WatchError as exc:
        with services().sessions() as session:
            watch = _get(session, watch_id)
            return render_template("watch.html", watch=watch, runs=runs(session, watch_id),
                                   error=str(exc), form=fields), 400
    return redirect(url_for("watches_ui.watch_page", watch_id=watch_id), code=303)


@bp.post("/watches/<id:watch_id>/pause")
def pause(watch_id: int):
    return _set_enabled(watch_id, False)


@bp.post("/watches/<id:watch_id>/resume")
def resume(watch_id: int):
    return _set_enabled(watch_id, True)


def _set_enabled(watch_id: int, enabled: bool):
    with transaction(services().sessions) as session:
        update_watch(session, _get(session, watch_id), {"enabled": enabled})
    target = request.form.get("next")
    if target == "list":
        return redirect(url_for("watches_ui.list_page"), code=303)
    return redirect(url_for("watches_ui.watch_page", watch_id=watch_id), code=303)


@bp.post("/watches/<id:watch_id>/delete")
def delete(watch_id: int):
    with transaction(services().sessions) as session:
        delete_watch(session, _get(session, watch_id))
    return redirect(url_for("watches_ui.list_page"), code=303)

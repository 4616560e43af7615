"""Pages for researchers: search, the history of a URL, the diff of two captures."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from archiver.search import QueryError
from archiver.web.research import compare, history_of, run_search

bp = Blueprint("research", __name__)


@bp.get("/search")
def search():
    page, error = None, None
    if request.args:
        try:
            page = run_search(request.args)
        except QueryError as exc:
            error = str(exc)
    return render_template("search.html", page=page, error=error, args=request.args), 400 if error else 200


@bp.get("/history")
def history():
    url, entries, days = history_of(request.args.get("url", ""))
    peak = max((d.count for d in days), default=0)
    return render_template("history.html", url=url, entries=list(reversed(entries)), days=days, peak=peak)


@bp.get("/captures/<id:from_id>/diff/<id:to_id>")
def diff(from_id: int, to_id: int):
    old, new, text_diff = compare(from_id, to_id)
    view = "inline" if request.args.get("view") == "inline" else "side"
    return render_template("diff.html", old=old, new=new, diff=text_diff, view=view)

"""Atom feeds (RFC 4287) of changed captures: the whole archive's, and one per watch.

An entry is a capture marked `changed` (archiver/changes.py); it links the diff against
the capture before it, the capture's page and its snapshot.
"""
from __future__ import annotations

from datetime import datetime, timezone
from xml.etree import ElementTree as ET

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiver import SOFTWARE_NAME, __version__
from archiver.config import Settings
from archiver.diff import diff_texts
from archiver.models import CHANGED, STORED, Capture, Watch, WatchRun
from archiver.webhooks.payload import change_links

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50
CONTENT_TYPE = "application/atom+xml; charset=utf-8"


def changed_captures(session: Session, watch: Watch | None = None,
                     limit: int = FEED_ENTRIES) -> list[Capture]:
    """The latest changed captures, newest first; of one watch's when `watch` is given."""
    query = select(Capture).where(Capture.state == STORED, Capture.change == CHANGED)
    if watch is not None:
        runs = select(WatchRun.capture_id).where(WatchRun.watch_id == watch.id,
                                                 WatchRun.capture_id.is_not(None))
        query = query.where(or_(Capture.watch_id == watch.id, Capture.id.in_(runs)))
    query = query.order_by(Capture.fetched_at.desc(), Capture.id.desc()).limit(limit)
    return list(session.scalars(query))


def _time(value: datetime | None) -> str:
    value = (value or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _summary(session: Session, capture: Capture) -> str:
    previous = session.get(Capture, capture.previous_id) if capture.previous_id else None
    stats = diff_texts(previous.text if previous else None, capture.text).stats()
    parts = [f"{stats[op]} paragraph{'s' if stats[op] != 1 else ''} {label}"
             for op, label in (("replace", "changed"), ("insert", "added"), ("delete", "removed"))
             if stats[op]]
    where = capture.final_url or capture.requested_url
    return f"{where}: " + (", ".join(parts) if parts else "the text changed") + \
        (f" since capture {previous.id}." if previous else ".")


def atom_feed(session: Session, settings: Settings, self_url: str, title: str,
              alternate_url: str, captures: list[Capture]) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", self_url)
    _sub(feed, "title", title)
    _sub(feed, "updated", _time(captures[0].fetched_at if captures else None))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=alternate_url)
    author = _sub(feed, "author")
    _sub(author, "name", SOFTWARE_NAME)
    _sub(feed, "generator", SOFTWARE_NAME, version=__version__)
    for capture in captures:
        links = change_links(settings, capture)
        entry = _sub(feed, "entry")
        _sub(entry, "id", links["capture"])
        _sub(entry, "title", f"Changed: {capture.title or capture.final_url or capture.requested_url}")
        _sub(entry, "updated", _time(capture.fetched_at))
        _sub(entry, "link", rel="alternate", type="text/html", href=links.get("diff", links["capture"]))
        _sub(entry, "link", rel="related", type="text/html", href=links["capture"])
        if "snapshot" in links:
            _sub(entry, "link", rel="via", type="text/html", href=links["snapshot"])
        _sub(entry, "summary", _summary(session, capture))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)

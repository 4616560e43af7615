"""The JSON body of a change alert: which watch, which capture, what it was compared with,
and where to see the difference. Built once, stored with the delivery, sent byte for byte."""
from __future__ import annotations

import json
from urllib.parse import quote

from archiver.config import Settings
from archiver.diff import diff_texts
from archiver.models import Capture, Watch
from archiver.replay import capture_timestamp, replay_url

EVENT = "capture.changed"


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def change_links(settings: Settings, capture: Capture) -> dict[str, str]:
    """Absolute addresses of a changed capture, its diff and its snapshot (for alerts and feeds)."""
    base = settings.public_url
    links = {"capture": f"{base}/captures/{capture.id}",
             "capture_api": f"{base}/api/v1/captures/{capture.id}",
             "history": f"{base}/history?url={quote(capture.final_url or capture.requested_url, safe='')}"}
    if capture.previous_id:
        links["diff"] = f"{base}/captures/{capture.previous_id}/diff/{capture.id}"
        links["diff_api"] = f"{base}/api/v1/captures/{capture.previous_id}/diff/{capture.id}"
    stamp = capture_timestamp(capture)
    if stamp and capture.final_url:
        links["snapshot"] = replay_url(settings, capture.final_url, stamp)
    return links


def change_payload(settings: Settings, delivery_id: int, watch: Watch, capture: Capture,
                   previous: Capture | None) -> bytes:
    diff = diff_texts(previous.text if previous else None, capture.text)
    document = {
        "event": EVENT,
        "delivery_id": delivery_id,
        "watch": {"id": watch.id, "url": watch.url, "note": watch.note},
        "capture": {"id": capture.id, "requested_url": capture.requested_url,
                    "final_url": capture.final_url, "fetched_at": _iso(capture.fetched_at),
                    "http_status": capture.http_status, "title": capture.title,
                    "payload_sha256": capture.payload_sha256, "text_sha256": capture.text_sha256,
                    "change": capture.change},
        "previous": None if previous is None else {
            "id": previous.id, "fetched_at": _iso(previous.fetched_at),
            "payload_sha256": previous.payload_sha256, "text_sha256": previous.text_sha256},
        "diff": {"stats": diff.stats()},
        "links": change_links(settings, capture),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")

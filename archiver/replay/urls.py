"""Addresses on the replay origin (wayback style, as pywb has them) and a capture's timestamp."""
from __future__ import annotations

from datetime import datetime, timezone

from archiver.config import Settings
from archiver.replay.paths import COLLECTION


def replay_origin(settings: Settings) -> str:
    host = settings.replay_host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.replay_port}"


def replay_url(settings: Settings, url: str, timestamp: str = "", raw: bool = False) -> str:
    """`/web/<ts>/<url>` (closest capture), `/web/<url>` (latest, the TimeGate), `id_` for raw bytes."""
    mod = "id_" if raw else ""
    stamp = f"{timestamp}{mod}/" if (timestamp or mod) else ""
    return f"{replay_origin(settings)}/{COLLECTION}/{stamp}{url}"


def timemap_url(settings: Settings, url: str, form: str = "link") -> str:
    return f"{replay_origin(settings)}/{COLLECTION}/timemap/{form}/{url}"


def timestamp14(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y%m%d%H%M%S")


def capture_timestamp(capture) -> str | None:
    """The 14-digit WARC-Date of the capture's final response (what the index holds)."""
    for hop in reversed(capture.redirect_chain or []):
        if hop.get("status") is not None and hop.get("started_at"):
            return timestamp14(datetime.fromisoformat(hop["started_at"]))
    return None


def capture_replay_links(settings: Settings, capture) -> dict[str, str] | None:
    """{"page": ..., "raw": ...} for a capture with an archived response, else None."""
    stamp = capture_timestamp(capture)
    url = capture.final_url
    if not stamp or not url or not capture.records:
        return None
    return {"page": replay_url(settings, url, stamp), "raw": replay_url(settings, url, stamp, raw=True),
            "timemap": timemap_url(settings, url)}

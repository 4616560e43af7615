"""What the PROV and PREMIS descriptions share: a capture's records, its agents and its
log entries in plain terms."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

from archiver.ledger.models import LedgerEntry
from archiver.models import Capture

NAMESPACE = "urn:archiver:"


def record_uuid(record_id: str) -> str:
    """`<urn:uuid:...>` -> the UUID."""
    return record_id.strip("<>").rsplit(":", 1)[-1]


def hex_digest(digest: str | None) -> str | None:
    """`sha256:<base32>` -> hex; None when it is not a sha256 digest."""
    if not digest or not digest.lower().startswith("sha256:"):
        return None
    try:
        return base64.b32decode(digest.split(":", 1)[1].upper()).hex()
    except ValueError:
        return None


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment else None


def software_label(capture: Capture) -> str:
    software = capture.software or {}
    return f"{software.get('name', 'archiver')} {software.get('version', '')}".strip()


def agent_label(agent: dict) -> str:
    """A person-readable name of a log entry's agent."""
    kind = agent.get("kind", "agent")
    who = agent.get("user") or agent.get("email") or agent.get("name") or agent.get("host") \
        or agent.get("remote_addr") or ""
    return f"{kind} {who}".strip()


def agent_key(agent: dict) -> str:
    """A stable local name for an agent: the same agent in two entries is one agent."""
    parts = [str(agent.get(k)) for k in ("kind", "user", "email", "name", "host", "remote_addr", "software")
             if agent.get(k)]
    return "agent-" + "-".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)[:120]


def events(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    return sorted(entries, key=lambda e: e.position)

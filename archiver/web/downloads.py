"""`exported` events for downloads of a capture's records (docs/provenance.md)."""
from __future__ import annotations

from flask import g, request

from archiver.evidence import record_export
from archiver.web import services


def requester_agent() -> dict:
    """Who asked: the logged-in user or token when there is one (archiver.accounts), and
    always the address the request came from."""
    viewer = g.get("viewer")
    agent = viewer.agent() if viewer is not None and hasattr(viewer, "agent") else {"kind": "anonymous"}
    return {**agent, "remote_addr": request.remote_addr}


def log_download(capture_ids: list[int], fmt: str, filename: str) -> None:
    """One `exported` entry per capture for a whole download. The byte-range reads a replay
    tool makes of a package it opened in place are not new exports and are not logged."""
    if request.headers.get("Range"):
        return
    record_export(services().sessions, capture_ids, fmt, requester_agent(), package=filename)

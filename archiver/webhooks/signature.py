"""Signing webhook bodies: HMAC-SHA256 over the raw body with the watch's secret.

The receiver recomputes it over the bytes it received and compares in constant time
(docs/changes.md has a receiver's example).
"""
from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Archiver-Signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value: `sha256=<hex HMAC-SHA256 of body keyed with secret>`."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(sign(secret, body), header.strip())

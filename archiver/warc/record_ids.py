"""WARC-Record-IDs: the urn:uuid: of a random (version 4) UUID, as `uuid.uuid4()` makes it."""
from __future__ import annotations

import os


def random_record_id() -> str:
    return f"<urn:uuid:{uuid4_text(os.urandom(16))}>"


def uuid4_text(random16: bytes) -> str:
    """`str(uuid.UUID(bytes=random16, version=4))`, which `uuid.uuid4()` is, without the
    UUID object: the version and variant bits set in the bytes, their hex in 8-4-4-4-12."""
    raw = bytearray(random16)
    raw[6] = raw[6] & 0x0F | 0x40        # version 4
    raw[8] = raw[8] & 0x3F | 0x80        # the RFC 4122 variant
    hex_ = raw.hex()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"

"""The gzip engine WARC records are compressed with: ISA-L (the `isal` package) or zlib.

Both write standard gzip members that every reader (warcio, pywb, zcat) takes; ISA-L's
deflate is several times faster than zlib's, at a ratio near zlib's level 6 from its
level 2 (docs/warc.md, Compression). The engine and level are settings
(ARCHIVER_WARC_GZIP_ENGINE, ARCHIVER_WARC_GZIP_LEVEL, validated in archiver/config.py).
"""
from __future__ import annotations

import zlib
from typing import Callable


def compressobj_factory(engine: str) -> Callable:
    """`compressobj(level, method, wbits)` of the engine named, with zlib's signature."""
    if engine == "zlib":
        return zlib.compressobj
    if engine == "isal":
        from isal import isal_zlib   # imported only where WARCs are written
        return isal_zlib.compressobj
    raise ValueError(f"unknown gzip engine {engine!r}: use isal or zlib")

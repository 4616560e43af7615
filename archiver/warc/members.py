"""Walking the gzip members of a file without trusting it: where each ends, where it breaks."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

CHUNK = 1024 * 1024
OUT_LIMIT = 4 * 1024 * 1024


@dataclass(frozen=True)
class Member:
    offset: int
    length: int
    status: str          # "ok", "truncated" (the file ends inside it) or "garbage" (not a valid gzip member)


def iter_members(handle: BinaryIO, on_bytes: Callable[[bytes], None] | None = None) -> Iterator[Member]:
    """Yield each gzip member from the handle's current position to its end.

    The last item may be a "truncated" member (cut short) or "garbage" (bytes that are
    not a gzip member, up to the end of the file); nothing follows either. `on_bytes`
    sees every byte read, e.g. to hash the whole file on the same pass.
    """
    start = 0           # offset of the current member
    used = 0            # compressed bytes of the current member consumed so far
    pending = b""       # bytes read but not yet given to the decompressor
    inflater = None
    at_end = False
    while True:
        if not pending:
            pending = handle.read(CHUNK)
            if not pending:
                at_end = True
            elif on_bytes is not None:
                on_bytes(pending)
        if at_end:
            if inflater is not None:
                # output held back by OUT_LIMIT may still hold the member's end
                while not inflater.eof and inflater.decompress(b"", OUT_LIMIT):
                    pass
                yield Member(start, used, "ok" if inflater.eof and not inflater.unused_data
                             else "truncated")
            return
        if inflater is None:
            inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
            used = 0
        try:
            inflater.decompress(pending, OUT_LIMIT)
        except zlib.error:
            size = used + len(pending)
            while chunk := handle.read(CHUNK):
                if on_bytes is not None:
                    on_bytes(chunk)
                size += len(chunk)
            yield Member(start, size, "garbage")
            return
        left = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        used += len(pending) - len(left)
        pending = left
        if inflater.eof:
            yield Member(start, used, "ok")
            start += used
            inflater = None

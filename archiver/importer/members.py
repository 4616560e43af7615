"""Walking the gzip members of a file that may be damaged, and finding the next good one.

`archiver.warc.members.iter_members` stops at the first bad byte: right for auditing our own
files, where anything after damage is suspect. An import wants the opposite: every good
record of a damaged file. So after a member that will not inflate (a flipped bit, bytes
that are not gzip) the walk looks for the next gzip header and carries on from there.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b\x08"        # gzip id bytes and the deflate method


@dataclass(frozen=True)
class Member:
    offset: int
    length: int
    status: str             # "ok", "truncated" (the file ends inside it), "broken" (will not inflate)
    error: str = ""


def walk_members(data, write: Callable[[int, bytes], None],
                 on_progress: Callable[[int], None] | None = None) -> Iterator[Member]:
    """Yield each gzip member of `data` (bytes or an mmap) in order.

    The inflated bytes of the member being walked go to `write(offset, chunk)`; a member that
    turns out broken or truncated has had some of its bytes written already, and the caller
    throws them away. After a broken member the walk resumes at the next gzip header.
    `on_progress(position)` is called as the walk moves through the file.
    """
    size = len(data)
    position = 0
    while position < size:
        if data[position:position + 3] != GZIP_MAGIC:
            following = data.find(GZIP_MAGIC, position + 1)
            end = size if following < 0 else following
            yield Member(position, end - position, "broken", "not a gzip member")
            position = end
            continue
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        cursor = position
        error = ""
        while cursor < size and not inflater.eof:
            chunk = data[cursor:cursor + CHUNK]
            try:
                out = inflater.decompress(chunk)
            except zlib.error as exc:
                error = str(exc)
                break
            if out:
                write(position, out)
            cursor += len(chunk) - len(inflater.unused_data)
            if on_progress is not None:
                on_progress(cursor)
        if error:
            following = data.find(GZIP_MAGIC, position + 1)
            end = size if following < 0 else following
            yield Member(position, end - position, "broken", error)
            position = end
        elif not inflater.eof:
            yield Member(position, size - position, "truncated", "the file ends inside this gzip member")
            position = size
        else:
            tail = inflater.flush()
            if tail:
                write(position, tail)
            yield Member(position, cursor - position, "ok")
            position = cursor
        if on_progress is not None:
            on_progress(position)

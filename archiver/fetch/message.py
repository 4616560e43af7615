"""Reading an HTTP/1.x response as recorded: its head, and its payload without framing.

The payload (the entity body with its content encoding kept, chunked framing removed)
is derived from the recorded response bytes, so the two always agree, also when the
read stopped early (deadline, size cap, dropped connection).
"""
from __future__ import annotations

import hashlib
import io
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO

SPOOL_MAX_MEMORY = 1024 * 1024
# Pieces copied at a time: a body that is still in memory (see SPOOL_MAX_MEMORY) goes in
# one piece, into one buffer sized once, instead of a buffer grown and copied per 64 KB.
_COPY_SIZE = SPOOL_MAX_MEMORY


@dataclass
class Head:
    http_version: str = "HTTP/1.1"
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def parse_head(raw: bytes) -> Head:
    """Status line and header fields in order, duplicates kept (ISO-8859-1, as HTTP says).

    Only the last response in `raw` counts: interim 1xx responses come before it.
    """
    text = raw.decode("iso-8859-1")
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    if not blocks:
        return Head()
    lines = blocks[-1].split("\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    head = Head(http_version=version.strip() or "HTTP/1.1", reason=reason.strip())
    try:
        head.status = int(code)
    except ValueError:
        head.status = None
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and head.headers:   # obsolete line folding
            name, value = head.headers[-1]
            head.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep:
            head.headers.append((name.strip(), value.strip()))
    return head


@dataclass
class Payload:
    file: BinaryIO
    length: int
    sha256: str
    complete: bool          # the whole entity body was seen (framing ended properly)
    capped: bool            # more body bytes were recorded than `limit` allowed
    offset: int | None      # where the copied bytes begin in the response, unless dechunked


def extract_payload(response: BinaryIO, body_start: int, *, chunked: bool,
                    content_length: int | None, limit: int, bodiless: bool = False) -> Payload:
    """Copy the body out of a recorded response, at most `limit` bytes: into a file in
    memory when it is read whole below SPOOL_MAX_MEMORY, otherwise into a spooled file."""
    if not chunked:
        response.seek(body_start)
        body = response.read(_COPY_SIZE)
        if len(body) < _COPY_SIZE:
            response.seek(0, 2)
            return _payload_in_memory(body, body_start, content_length=content_length,
                                      limit=limit, bodiless=bodiless)
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)
    digest = hashlib.sha256()
    written = 0
    capped = False

    def emit(data: bytes) -> None:
        nonlocal written, capped
        room = limit - written
        if len(data) > room:
            data, capped = data[:max(room, 0)], True
        if data:
            out.write(data)
            digest.update(data)
            written += len(data)

    response.seek(body_start)
    if chunked:
        complete = _dechunk(response, emit)
    else:
        while True:
            piece = response.read(_COPY_SIZE)
            if not piece:
                break
            emit(piece)
        complete = bodiless or content_length is None or written == content_length
    response.seek(0, 2)
    out.seek(0)
    return Payload(file=out, length=written, sha256=digest.hexdigest(),
                   complete=complete and not capped, capped=capped,
                   offset=None if chunked else body_start)


def _payload_in_memory(body: bytes, body_start: int, *, content_length: int | None,
                       limit: int, bodiless: bool) -> Payload:
    """The payload of a body read whole, below the size a spooled file keeps in memory:
    the bytes read are the file's, not copied again into a spooled file's buffer."""
    capped = len(body) > limit
    if capped:
        body = body[:max(limit, 0)]
    complete = bodiless or content_length is None or len(body) == content_length
    return Payload(file=io.BytesIO(body), length=len(body), sha256=hashlib.sha256(body).hexdigest(),
                   complete=complete and not capped, capped=capped, offset=body_start)


def _dechunk(src: BinaryIO, emit) -> bool:
    """Emit the data of each chunk; True when the last (zero-size) chunk was seen."""
    while True:
        line = src.readline(4096)
        if not line:
            return False
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return False
        if size == 0:
            return True
        while size > 0:
            piece = src.read(min(size, _COPY_SIZE))
            if not piece:
                return False
            emit(piece)
            size -= len(piece)
        if src.read(2) != b"\r\n":
            return False

"""Removing Content-Encoding from a stored payload, with a limit on the output.

The archive keeps bytes as the server sent them; readers of the text (the extractor)
need them decoded. A small compressed body can expand enormously, so decoding stops
at `limit_bytes` with a `DecodeError` instead of filling memory.
"""
from __future__ import annotations

import zlib
from typing import BinaryIO, Iterator

from archiver.fetch.types import Exchange

MAX_STACKED_ENCODINGS = 2
_READ_SIZE = 64 * 1024


class DecodeError(ValueError):
    """The payload could not be decoded; the message says why."""


def decode_content(exchange: Exchange, limit_bytes: int) -> bytes:
    """The exchange's payload with its Content-Encoding removed, at most `limit_bytes` long.

    Supports gzip, x-gzip, deflate (zlib-wrapped or raw) and identity, stacked at most
    twice. Raises DecodeError for an unknown encoding, corrupt data, or output above
    the limit. The payload file's position is restored afterwards.
    """
    if exchange.payload_file is None:
        return b""
    encodings = _encodings(exchange.header("Content-Encoding"))
    if len(encodings) > MAX_STACKED_ENCODINGS:
        raise DecodeError(
            f"the response stacks {len(encodings)} content encodings ({', '.join(encodings)}); "
            f"at most {MAX_STACKED_ENCODINGS} are decoded")
    for name in encodings:
        if name not in ("gzip", "x-gzip", "deflate"):
            raise DecodeError(f"unsupported content encoding {name!r}: only gzip and deflate are decoded")
    handle = exchange.payload_file
    position = handle.tell()
    handle.seek(0)
    try:
        if not encodings:
            data = handle.read(limit_bytes + 1)
            if len(data) > limit_bytes:
                raise DecodeError(f"the body is larger than the limit of {limit_bytes} bytes")
            return data
        # Encodings are listed in the order they were applied: undo them last to first.
        return _decode_stack(handle, list(reversed(encodings)), limit_bytes)
    finally:
        handle.seek(position)


def _encodings(header: str | None) -> list[str]:
    if not header:
        return []
    names = [part.strip().lower() for part in header.split(",")]
    return [name for name in names if name and name != "identity"]


def _decode_stack(handle: BinaryIO, steps: list[str], limit: int) -> bytes:
    stream: Iterator[bytes] = iter(lambda: handle.read(_READ_SIZE), b"")
    for name in steps:
        stream = _undo(name, stream)
    out = bytearray()
    for piece in stream:
        out += piece
        if len(out) > limit:
            raise DecodeError(
                f"the decoded body exceeds the limit of {limit} bytes (a small compressed body "
                "that grows this much may be a decompression bomb); decoding was stopped")
    return bytes(out)


def _new(name: str, raw: bool = False):
    if raw:
        return zlib.decompressobj(-zlib.MAX_WBITS)
    return zlib.decompressobj(16 + zlib.MAX_WBITS if name in ("gzip", "x-gzip") else zlib.MAX_WBITS)


def _undo(name: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decode one encoding lazily, in pieces of at most _READ_SIZE bytes.

    A body cut short (a truncated capture) yields what could be decoded; corrupt data
    raises DecodeError. Bytes after the end of the compressed stream are ignored, except
    that further gzip members are decoded too.
    """
    decoder = _new(name)
    started = False
    for chunk in chunks:
        data = chunk
        while data:
            try:
                piece = decoder.decompress(data, _READ_SIZE)
            except zlib.error as exc:
                if name == "deflate" and not started:
                    decoder = _new(name, raw=True)      # raw deflate, without the zlib header
                    started = True
                    continue
                raise DecodeError(f"the {name}-encoded body is corrupt ({exc})") from None
            started = True
            if piece:
                yield piece
            data = decoder.unconsumed_tail
            if decoder.eof:
                rest = decoder.unused_data
                if name in ("gzip", "x-gzip") and rest.lstrip(b"\x00"):
                    decoder = _new(name)
                    data = rest.lstrip(b"\x00")
                else:
                    return
    try:
        tail = decoder.flush()
    except zlib.error as exc:
        raise DecodeError(f"the {name}-encoded body is corrupt ({exc})") from None
    if tail:
        yield tail

"""CDXJ lines made straight from the record heads the WARC writer keeps (RecordLocation.head).

cdxj-indexer makes a line of a head by parsing it with warcio's record loader into header
objects, then asking its field methods for each default field: most of the CPU of indexing
a capture, for seven short strings. Here a head of the plain shape our writer produces is
read in one pass, and each field is taken as cdxj-indexer takes it:

- the WARC and HTTP header blocks are split into lines as warcio's parser reads them (at
  LF, each line right-stripped, a header's name and value stripped as it strips them), and
  a header is the first of its name, in any case, as `StatusAndHeaders.get_header` finds it;
- the record set, the MIME type (`CDXJIndexer.RE_SPACE`) and the SURT key
  (`CDXJIndexer.get_url_key`) are cdxj-indexer's own;
- the timestamp is the digits of a plain ISO date, checked as warcio's datetime checks it;
- the JSON block is json.dumps's, one string field at a time.

Any head outside that shape (not UTF-8, folded header lines, an empty line before the end,
a `<...>` target or one with spaces, an HTTP head cut short by Content-Length, a request)
gets None from `read_head`: the caller leaves the whole capture to warcio and cdxj-indexer
(archiver/replay/index.py). tests/test_replay_heads.py proves the lines identical to theirs
over many records, plain and odd.
"""
from __future__ import annotations

import functools
import re
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import NamedTuple

WARC_VERSIONS = ("WARC/1.1", "WARC/1.0")
HTTP_SCHEMES = ("http:", "https:")                 # warcio parses HTTP heads of these only
HTTP_PARSED = ("response", "revisit")              # ... in these records (and requests)
END_OF_HEADERS = b"\r\n\r\n"
# a WARC date as our writer writes it; others go to warcio's iso_date_to_timestamp
PLAIN_DATE = re.compile(r"([1-9][0-9]{3})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?Z")


class HttpHead(NamedTuple):
    """What cdxj-indexer reads of a record's HTTP head."""
    status_code: str            # StatusAndHeaders.get_statuscode()
    content_type: str | None
    present: bool               # the StatusAndHeaders is true: a status or some header


class Head(NamedTuple):
    """What cdxj-indexer's default fields read of a record, from its kept head."""
    record_type: str | None
    target_uri: str
    date: str | None
    payload_digest: str | None
    content_type: str | None    # the WARC header's
    http: HttpHead | None       # None where warcio parses no HTTP head, or finds none


def read_head(head: bytes) -> Head | None:
    """The record's fields as warcio's loader would give them; None when the head is not
    of the plain shape read here (the module's docstring)."""
    end = head.find(END_OF_HEADERS)
    block = _header_block(head[:end]) if end >= 0 else None
    if block is None or block[0] not in WARC_VERSIONS:
        return None
    fields = block[1]
    record_type, uri = fields.get("warc-type"), fields.get("warc-target-uri")
    if not uri or uri[0] == "<" or " " in uri or record_type == "request":
        return None         # warcio rewrites such a target; a request's head is parsed otherwise
    http = None
    if record_type in HTTP_PARSED and uri.startswith(HTTP_SCHEMES):
        http = _http_part(head[end + len(END_OF_HEADERS):], record_type, fields.get("content-length"))
        if http is False:
            return None
    return Head(record_type, uri, fields.get("warc-date"), fields.get("warc-payload-digest"),
                fields.get("content-type"), http)


def _http_part(rest: bytes, record_type: str, content_length: str | None) -> HttpHead | None | bool:
    """The HTTP head after the WARC headers, as warcio's loader parses it: None when it
    parses none, False when this module does not read it as warcio would."""
    length = block_length(content_length)
    if length == 0:
        return None                      # warcio does not look
    if length is not None and length < len(rest):
        return False                     # warcio reads only `length` bytes of it
    if not rest:
        return None if record_type == "revisit" else False    # a response's: EOFError
    end = rest.find(END_OF_HEADERS)
    block = _header_block(rest[:end]) if end >= 0 else None
    if block is None or not block[0]:
        return False
    status, fields = block
    parts = status.split(" ", 1)
    statusline = parts[1].strip() if len(parts) > 1 else ""    # after the protocol
    return HttpHead(statusline.split(" ", 1)[0], fields.get("content-type"), bool(statusline or fields))


def block_length(value: str | None) -> int | None:
    """Content-Length as warcio takes it: None when absent, 0 when not a length."""
    if value is None:
        return None
    try:
        return max(int(value), 0)
    except ValueError:
        return 0


def _header_block(data: bytes) -> tuple[str, dict[str, str]] | None:
    """A status line and the headers under it (first value of each lower-cased name), read
    line by line as warcio's StatusAndHeadersParser reads them, from a block that ends
    where it finds its blank line. None where it would read it otherwise: bytes that are
    not UTF-8 (it decodes line by line, falling back to Latin-1), a blank line within
    (its end), a line opening with a space or tab (folded into the one before)."""
    try:
        status, *lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    fields: dict[str, str] = {}
    for line in lines:
        line = line.rstrip()
        if not line or line[0] in " \t":
            return None
        name, colon, value = line.partition(":")
        if colon:                        # a line without one is dropped
            fields.setdefault(name.rstrip(" \t").lower(), value.lstrip())
    return status.rstrip(), fields


def head_line(head: Head, offset: int, length: int, filename: str) -> str | None:
    """The line CDXJIndexer writes of this record at (offset, length) of `filename`, or
    None when its default record set leaves the record out."""
    if not _indexed(head):
        return None
    fields = [("url", head.target_uri)]
    mime = _mime(head)
    if mime is not None:
        fields.append(("mime", mime))
    if head.http is not None and head.http.present:      # a response's or revisit's
        fields.append(("status", head.http.status_code))
    if head.payload_digest is not None:
        fields.append(("digest", head.payload_digest))
    fields += [("length", str(length)), ("offset", str(offset))]
    if filename is not None:
        fields.append(("filename", filename))
    return f"{_url_key(head.target_uri)} {timestamp(head.date)} {_json_object(fields)}"


def _indexed(head: Head) -> bool:
    """CDXJIndexer.filter_record with its default record set: not the WARC-fields kind of
    resource or metadata record (warcinfo-like)."""
    if head.record_type not in _indexer_class().DEFAULT_RECORDS:
        return False
    return not (head.record_type in ("resource", "metadata") and head.content_type == "application/warc-fields")


def _mime(head: Head) -> str | None:
    """CDXJIndexer.get_field(record, "mime"): the HTTP Content-Type of responses, the WARC
    one of the others, up to its first `;` or space; a revisit's is warc/revisit."""
    if head.record_type == "revisit":
        return "warc/revisit"
    if head.record_type == "response":
        value = head.http.content_type if head.http is not None and head.http.present else None
    else:
        value = head.content_type
    if value:
        value = _indexer_class().RE_SPACE.split(value, 1)[0].strip()
    return value


def timestamp(date: str | None) -> str:
    """warcio's iso_date_to_timestamp: a plain date's digits once datetime accepts them."""
    plain = PLAIN_DATE.fullmatch(date) if isinstance(date, str) else None
    if plain is None:
        return _warcio_timestamp(date)
    digits = plain.groups()
    try:
        datetime(*map(int, digits))
    except ValueError:                   # not a date: warcio says so in its words
        return _warcio_timestamp(date)
    return "".join(digits)


def _json_object(fields: list[tuple[str, str]]) -> str:
    """json.dumps of these string fields in order, with its default separators and escapes."""
    return "{" + ", ".join([f'"{name}": {encode_basestring_ascii(value)}' for name, value in fields]) + "}"


# --- cdxj-indexer and warcio, imported only where indexing happens (workers, reindex) ----

@functools.cache
def _indexer_class():
    from cdxj_indexer.main import CDXJIndexer
    return CDXJIndexer


@functools.cache
def _key_maker():
    from io import StringIO
    return _indexer_class()(StringIO(), []).get_url_key      # surt, or the URL when it fails


def _url_key(url: str) -> str:
    return _key_maker()(url)


def _warcio_timestamp(date):
    from warcio.timeutils import iso_date_to_timestamp
    return iso_date_to_timestamp(date)

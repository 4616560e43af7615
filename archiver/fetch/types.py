"""What a fetch produces: the exact bytes of each HTTP exchange and what we learnt about it.

These types are the contract between the fetcher (archiver.fetch) and the WARC
writer (archiver.warc) and the capture pipeline (archiver.capture).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO


@dataclass
class TLSInfo:
    version: str                      # e.g. "TLSv1.3"
    cipher: str                       # e.g. "TLS_AES_256_GCM_SHA384"
    cert_der: bytes | None = None     # the server's leaf certificate
    cert_sha256: str | None = None    # hex fingerprint of cert_der
    cert_subject: str | None = None   # RFC 4514 string
    cert_issuer: str | None = None
    cert_not_before: datetime | None = None
    cert_not_after: datetime | None = None


@dataclass
class Exchange:
    """One request and its response: one hop of a redirect chain."""
    url: str                          # the URL requested on this hop
    ip: str                           # the address connected to (the one that was checked)
    port: int
    started_at: datetime              # UTC, aware
    ended_at: datetime
    request_bytes: bytes              # exactly what was sent: request line, headers, body
    # Exactly what was received, as on the wire after TLS: status line, headers and body
    # (chunked framing and content encodings kept). None when no response came.
    response_file: BinaryIO | None = None
    response_length: int = 0
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)   # in order, as sent
    # The entity body without transfer framing but with its content encoding kept,
    # in memory, or spooled to disk when large; what payload_sha256 is computed over.
    payload_file: BinaryIO | None = None
    payload_length: int = 0
    payload_sha256: str | None = None
    # Where payload_file's bytes begin in response_file when they are a plain copy of the
    # bytes from there on (no chunked framing taken out); None otherwise.
    payload_offset: int | None = None
    truncated: str | None = None      # WARC-Truncated reason: "length", "time", "disconnect" or None
    tls: TLSInfo | None = None
    location: str | None = None       # absolute URL of the next hop, for redirects
    http_version: str = "HTTP/1.1"
    # sent over a connection an earlier exchange of the same batch opened (peer and TLS
    # facts are that connection's; archiver/fetch/connections.py)
    connection_reused: bool = False

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("Content-Type")


@dataclass
class FetchResult:
    requested_url: str
    exchanges: list[Exchange]         # every hop that got as far as sending a request
    error_code: str | None = None     # machine-readable: "dns", "refused_address", "connect",
                                      # "timeout", "too_many_redirects", "redirect_loop", ...
    error: str | None = None          # a sentence a person can act on

    @property
    def final(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None

    @property
    def final_url(self) -> str | None:
        return self.final.url if self.final else None

    @property
    def ok(self) -> bool:
        return self.error_code is None and self.final is not None and self.final.status is not None

    def close(self) -> None:
        for ex in self.exchanges:
            for f in (ex.response_file, ex.payload_file):
                if f is not None:
                    f.close()

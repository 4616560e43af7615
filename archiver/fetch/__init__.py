"""Fetching web pages for the archive: the exact bytes of every hop, behind an address guard.

    result = fetch(url, settings)          # never raises for network trouble
    with kept_connections():               # fetches in the block reuse connections
        ...
    text = decode_content(result.final, limit_bytes)

See docs/fetching.md for what is refused and why.
"""
from archiver.fetch.connections import kept_connections
from archiver.fetch.decode import DecodeError, decode_content
from archiver.fetch.fetcher import fetch
from archiver.fetch.guard import DNSFailure, RefusedAddress, Target, check_host, why_not_public
from archiver.fetch.types import Exchange, FetchResult, TLSInfo

__all__ = [
    "fetch", "kept_connections", "decode_content", "DecodeError",
    "FetchResult", "Exchange", "TLSInfo",
    "check_host", "why_not_public", "Target", "RefusedAddress", "DNSFailure",
]

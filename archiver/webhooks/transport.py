"""One POST to a webhook, behind the same address guard as captures.

The URL's host is resolved and judged by `archiver.fetch.guard` (ARCHIVER_ALLOW_PRIVATE
opens chosen host:port pairs), and the connection goes to the address judged, through
the fetcher's pinned adapter. Redirects are not followed: a 3xx is a failed attempt.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from archiver.config import Settings
from archiver.fetch.guard import GuardError, Target, check_host
from archiver.fetch.wire import Deadline, PinnedAdapter, Tap

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class PostResult:
    status: int | None          # the receiver's HTTP status, None when none came
    error: str | None           # why it failed, for people; None when it succeeded
    permanent: bool = False     # True when trying again cannot help (refused address, bad URL)

    @property
    def ok(self) -> bool:
        return self.error is None


def check_webhook_url(url: str, settings: Settings) -> Target:
    """The checked address a webhook to `url` would go to; raises GuardError (a refused
    address, a name that does not resolve) or ValueError (not an http(s) URL with a host).
    Also for checking a watch's webhook URL when it is set."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a webhook URL must be http:// or https:// with a host, not {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return check_host(parts.hostname, port, settings.allow_private)


def post_json(settings: Settings, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    try:
        target = check_webhook_url(url, settings)
    except (GuardError, ValueError) as exc:   # a name server that did not answer may next time
        return PostResult(None, str(exc)[:MAX_ERROR_CHARS],
                          permanent=getattr(exc, "code", None) != "dns_temporary")
    tap = Tap(Deadline(settings.webhook_timeout))
    adapter = PinnedAdapter(target, tap)
    request = requests.Request("POST", url, data=body, headers={
        "Content-Type": "application/json", "User-Agent": settings.user_agent, **headers}).prepare()
    try:
        response = adapter.send(request, stream=True, verify=True,
                                timeout=(settings.webhook_timeout, settings.webhook_timeout))
        try:
            response.raw.read(64 * 1024)      # a little of the answer, then hang up
        finally:
            response.close()
    except Exception as exc:   # noqa: BLE001 - every network failure is a failed attempt
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    finally:
        adapter.close()
        tap.received.close()
    if 200 <= response.status_code < 300:
        return PostResult(response.status_code, None)
    return PostResult(response.status_code,
                      f"the receiver answered {response.status_code} {response.reason or ''}".strip())

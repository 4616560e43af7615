"""Every request a page makes in the browser, fetched by the project's own fetcher.

The browser never fetches anything itself. Each request is intercepted (Playwright's
`route`), fetched with the capture's fetcher (archiver.fetch: address guard, allowlist,
timeouts, byte cap, exact wire bytes, redirects followed one checked hop at a time) and
answered with what came back (`route.fulfill`). A request that is not fetched is aborted
and recorded with the reason: a refused address, a scheme other than http(s), a method
other than GET (the fetcher sends no request bodies), an event stream or WebSocket (they
never end), or a limit (count, bytes, time) reached.

Everything fetched is kept as a FetchResult, in the order the page asked for it, and
written to the capture's WARC as request/response records like a plain capture's
requisites (archiver.warc.records.requisite_records).
"""
from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from archiver.config import Settings
from archiver.fetch import DecodeError, FetchResult, decode_content
from archiver.fetch.types import Exchange
from archiver.requisites import DEADLINE, MIN_TIME_LEFT, OVER_BYTES, OVER_COUNT
from archiver.urls import InvalidURL, normalize_submitted_url

log = logging.getLogger(__name__)

Fetcher = Callable[[str, Settings], FetchResult]

# why a request of the page was not fetched, besides the fetcher's own error codes
NOT_HTTP, METHOD, EVENT_STREAM, WEBSOCKET, INVALID_URL = (
    "not_http", "method", "event_stream", "websocket", "invalid_url")
# headers that describe the bytes on the wire, not the decoded body the browser is given
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection",
                          "keep-alive"})
SETTLE_SECONDS = 0.5        # no request in flight for this long: the network has settled


@dataclass(frozen=True)
class Answer:
    """What the browser is told a URL answered."""
    status: int
    headers: dict[str, str]
    body: bytes


def answer_of(exchange: Exchange, max_decoded_bytes: int) -> Answer:
    """The exchange's response as the browser should see it: body decoded, wire headers off."""
    headers: dict[str, str] = {}
    for name, value in exchange.headers:
        key = name.lower()
        if key in WIRE_HEADERS:
            continue
        joiner = "\n" if key == "set-cookie" else ", "
        headers[key] = headers[key] + joiner + value if key in headers else value
    try:
        body = decode_content(exchange, max_decoded_bytes) if exchange.payload_file is not None else b""
    except DecodeError as exc:
        log.info("could not decode %s for the browser: %s", exchange.url, exc)
        body = b""
    return Answer(exchange.status or 502, headers, body)


class Exchanges:
    """The route handler of one capture's browser context, and what it fetched and refused."""

    def __init__(self, fetcher: Fetcher, settings: Settings, pool: ThreadPoolExecutor,
                 deadline_at: float):
        self.fetcher, self.settings, self.pool = fetcher, settings, pool
        self.deadline_at = deadline_at            # time.monotonic() after which nothing is fetched
        self.results: list[tuple[int, FetchResult]] = []   # (request number, result) to be written
        self.unwritten: list[FetchResult] = []    # fetched but not archived (over the byte limit)
        self.fetched: list[dict] = []
        self.blocked: list[dict] = []
        self.answers: dict[str, Answer] = {}      # URL -> what it answered, for repeated requests
        self.pending: dict[str, asyncio.Future] = {}
        self.attempted = 0
        self.bytes = 0
        self.requests = 0
        self.inflight = 0
        self.last_activity = time.monotonic()
        self.closed = False                       # the page is done: answer nothing more

    # -- serving -----------------------------------------------------------------------
    def serve(self, url: str, exchange: Exchange) -> None:
        """Answer requests for `url` with an exchange already fetched (the page itself)."""
        self.answers[_key(url)] = answer_of(exchange, self.settings.max_decoded_bytes)

    async def handle(self, route, request) -> None:
        """Playwright's route handler: fetch, then fulfill or abort. Never raises."""
        self.inflight += 1
        self.last_activity = time.monotonic()
        try:
            answer = await self._answer(request)
            if self.closed:
                return
            if answer is None:
                await route.abort("blockedbyclient")
            else:
                await route.fulfill(status=answer.status, headers=answer.headers, body=answer.body)
        except Exception as exc:   # noqa: BLE001 - the page closed under us, or a bug: never hang it
            log.debug("request %s of the page ended without an answer: %s", request.url, exc)
            try:
                await route.abort("failed")
            except Exception:   # noqa: BLE001 - already handled or the page is gone
                pass
        finally:
            self.inflight -= 1
            self.last_activity = time.monotonic()

    async def handle_websocket(self, ws) -> None:
        """WebSockets are refused: the fetcher speaks HTTP requests with an end, and a socket
        the page keeps open has none."""
        self._block(ws.url, WEBSOCKET, "WebSocket connections are not archived; the page got a "
                                       "closed socket", method="GET", kind="websocket")
        try:
            await ws.close(code=1008, reason="not archived")
        except Exception:   # noqa: BLE001 - the page went away first
            pass

    async def _answer(self, request) -> Answer | None:
        number = self.requests
        self.requests += 1
        url, kind = request.url, request.resource_type
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            return self._block(url, NOT_HTTP, f"{scheme} scheme: only http and https are fetched",
                               request.method, kind)
        if request.method != "GET":
            return self._block(url, METHOD, f"a {request.method} request: only GET requests are "
                                            "fetched (the fetcher sends no request bodies)",
                               request.method, kind)
        if "text/event-stream" in (request.headers.get("accept") or ""):
            return self._block(url, EVENT_STREAM, "an event stream never ends; not archived",
                               request.method, kind)
        try:
            key = normalize_submitted_url(url)
        except InvalidURL as exc:
            return self._block(url, INVALID_URL, str(exc), request.method, kind)
        if key in self.answers:
            return self.answers[key]
        if key in self.pending:                  # asked again while the first is on its way
            return await asyncio.shield(self.pending[key])
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        try:
            answer = await self._fetch(number, key, request.method, kind, _frame_url(request))
        except BaseException:
            future.set_result(None)
            raise
        finally:
            self.pending.pop(key, None)
        if not future.done():
            future.set_result(answer)
        if answer is not None:
            self.answers[key] = answer
        return answer

    async def _fetch(self, number: int, url: str, method: str, kind: str,
                     found_in: str | None) -> Answer | None:
        s = self.settings
        left = self.deadline_at - time.monotonic()
        budget = s.browser_max_bytes - self.bytes
        if self.attempted >= s.browser_max_exchanges:
            return self._block(url, OVER_COUNT, f"the page already made {s.browser_max_exchanges} "
                                                "requests that were fetched (ARCHIVER_BROWSER_MAX_EXCHANGES)",
                               method, kind)
        if budget <= 0:
            return self._block(url, OVER_BYTES, f"the {s.browser_max_bytes} bytes allowed for the page's "
                                                "requests (ARCHIVER_BROWSER_MAX_BYTES) are used up",
                               method, kind)
        if left < MIN_TIME_LEFT:
            return self._block(url, DEADLINE, f"the {s.browser_deadline:g} s allowed for the page "
                                              "(ARCHIVER_BROWSER_DEADLINE) ran out", method, kind)
        self.attempted += 1
        fetch_settings = s.with_overrides(total_deadline=min(s.total_deadline, left),
                                          max_body_bytes=min(s.max_body_bytes, budget))
        loop = asyncio.get_running_loop()
        result: FetchResult = await loop.run_in_executor(self.pool, self.fetcher, url, fetch_settings)
        answered = [ex for ex in result.exchanges if ex.status is not None]
        size = sum(ex.payload_length for ex in answered)
        if not answered:
            self.unwritten.append(result)
            return self._block(url, result.error_code or "unknown", result.error or "no response",
                               method, kind)
        if self.bytes + size > s.browser_max_bytes:
            self.unwritten.append(result)
            return self._block(url, OVER_BYTES, f"{size} bytes arrived when {max(budget, 0)} of the "
                                                f"{s.browser_max_bytes} allowed for the page's requests "
                                                "(ARCHIVER_BROWSER_MAX_BYTES) were left; not archived",
                               method, kind)
        self.results.append((number, result))
        self.bytes += size
        if result.error_code:     # a redirect was archived, its target was not (refused, loop...)
            return self._block(url, result.error_code, result.error or "", method, kind,
                               archived_hops=len(answered))
        final = answered[-1]
        entry = {"url": url, "kind": kind, "source": "browser request",
                 "found_in": found_in, "status": final.status,
                 "content_type": final.content_type, "payload_size": final.payload_length,
                 "payload_sha256": final.payload_sha256, "truncated": final.truncated,
                 "ip": final.ip, "port": final.port, "started_at": final.started_at.isoformat()}
        if final.url != url:
            entry["final_url"] = final.url
        self.fetched.append(entry)
        return answer_of(final, s.max_decoded_bytes)

    def _block(self, url: str, reason: str, detail: str, method: str, kind: str | None,
               **extra) -> None:
        entry = {"url": url if len(url) <= 300 else url[:300] + "...", "reason": reason,
                 "detail": detail, "method": method, "kind": kind, **extra}
        self.blocked.append(entry)
        log.info("the page's request %s %s was not fetched: %s", method, entry["url"], reason)
        return None

    # -- waiting -----------------------------------------------------------------------
    async def settle(self, until: float) -> bool:
        """Wait until no request has been in flight for SETTLE_SECONDS, or `until` passes.
        True if the network settled in time."""
        while time.monotonic() < until:
            quiet = time.monotonic() - self.last_activity
            if self.inflight == 0 and quiet >= SETTLE_SECONDS:
                return True
            await asyncio.sleep(0.05)
        return False        # the deadline came first (a request that timed out at it included)

    def archived(self) -> list[FetchResult]:
        """What was fetched and kept, in the order the page asked for it."""
        return [result for _number, result in sorted(self.results, key=lambda pair: pair[0])]


def _key(url: str) -> str:
    try:
        return normalize_submitted_url(url)
    except InvalidURL:
        return url


def _frame_url(request) -> str | None:
    """The address of the document that asked (None for a worker's request)."""
    try:
        return request.frame.url
    except Exception:   # noqa: BLE001 - Playwright raises for requests of service workers
        return None

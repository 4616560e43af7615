"""Fetching a page's requisites for its capture, within the capture's limits.

    harvest = collect_requisites(fetcher, settings, page_result)   # never raises
    try:
        CaptureRecords(..., requisites=harvest.results)               # written with the page
        capture.requisites = harvest.summary                          # provenance
    finally:
        harvest.close()

Each requisite goes through the same fetcher as the page (address guard, allowlist,
timeouts, exact bytes). Stylesheets are read for what they load in turn, down to
`requisite_css_depth` levels of stylesheets. A few fetches run at once; results are
taken back strictly in the order the requisites were found, so the limits, the WARC
order and the provenance come out the same on every run over the same site.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from archiver.config import Settings
from archiver.extract.encoding import decode
from archiver.fetch import DecodeError, FetchResult, decode_content
from archiver.fetch.css import STYLESHEET
from archiver.fetch.requisites import Found, Requisite, Skip, css_requisites, html_requisites
from archiver.fetch.types import Exchange

log = logging.getLogger(__name__)

Fetcher = Callable[[str, Settings], FetchResult]

HTML_TYPES = ("text/html", "application/xhtml+xml")
# why a requisite was not fetched, besides the fetcher's own error codes
OVER_COUNT, OVER_BYTES, TOO_DEEP, DEADLINE = ("over_count_limit", "over_byte_limit", "too_deep",
                                              "deadline")
MIN_TIME_LEFT = 0.05           # seconds; less than this is not worth a connection


def is_html(exchange: Exchange | None) -> bool:
    if exchange is None or exchange.status is None or exchange.payload_file is None:
        return False
    content_type = (exchange.content_type or "").split(";")[0].strip().lower()
    return content_type in HTML_TYPES


def _is_css(requisite: Requisite, exchange: Exchange) -> bool:
    content_type = (exchange.content_type or "").split(";")[0].strip().lower()
    return content_type == "text/css" or (requisite.kind == STYLESHEET and not content_type)


@dataclass
class _Item:
    requisite: Requisite
    found_in: str              # the page or stylesheet URL it was found in
    depth: int                 # 1 when named by the page, +1 per stylesheet in between


@dataclass
class Harvest:
    results: list[FetchResult] = field(default_factory=list)   # to be written, in order
    summary: dict = field(default_factory=dict)                 # the provenance's "requisites"
    unwritten: list[FetchResult] = field(default_factory=list, repr=False)   # closed with them

    def close(self) -> None:
        for result in self.results + self.unwritten:
            result.close()


def collect_requisites(fetcher: Fetcher, settings: Settings, page: FetchResult) -> Harvest:
    """Find and fetch the requisites of the page `page` ended on; never raises.

    A page that is not HTML (or that failed) has none: the summary is then empty and
    nothing is fetched. A bug here costs the requisites, never the page.
    """
    harvester = _Harvester(fetcher, settings, page)
    try:
        harvester.run()
    except Exception as exc:   # noqa: BLE001 - the page capture must go on without them
        log.exception("collecting the requisites of %s failed", page.final_url)
        harvester.summary_error = f"{type(exc).__name__}: {exc}"
    return harvester.harvest()


class _Harvester:
    def __init__(self, fetcher: Fetcher, settings: Settings, page: FetchResult):
        self.fetcher, self.settings, self.page = fetcher, settings, page
        self.queue: deque[_Item] = deque()
        self.seen: set[str] = {ex.url for ex in page.exchanges}
        self.fetched: list[dict] = []
        self.skipped: list[dict] = []
        self.results: list[FetchResult] = []
        self.unwritten: list[FetchResult] = []
        self.attempted = 0
        self.bytes = 0
        self.bytes_exhausted = False   # one did not fit: the budget is spent for the rest
        self.summary_error: str | None = None
        self.ran = False
        self.started = time.monotonic()

    # -- the loop --------------------------------------------------------------------
    def run(self) -> None:
        final = self.page.final
        if self.settings.max_requisites == 0 or self.page.error_code or not is_html(final):
            return
        self.ran = True
        self._enqueue(self._read_html(final), final.url, depth=0)
        if not self.queue:
            return                        # nothing to fetch: no pool to start and stop
        workers = self.settings.requisite_concurrency
        pending: deque[tuple[_Item, Future]] = deque()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="requisites") as pool:
            try:
                while self.queue or pending:
                    while self.queue and len(pending) < workers:
                        item = self.queue.popleft()
                        fetch_settings = self._admit(item)
                        if fetch_settings is not None:
                            pending.append((item, pool.submit(self.fetcher, item.requisite.url,
                                                              fetch_settings)))
                    if pending:
                        item, future = pending.popleft()
                        self._take(item, future)
            finally:
                for _item, future in pending:     # only after a bug: do not leak their files
                    try:
                        self.unwritten.append(future.result())
                    except Exception:   # noqa: BLE001
                        pass

    def _read_html(self, exchange: Exchange) -> Found:
        try:
            body = decode_content(exchange, self.settings.max_decoded_bytes)
        except DecodeError as exc:
            self.summary_error = f"the page could not be decoded to look for requisites: {exc}"
            return Found()
        text, _encoding = decode(body, exchange.content_type)
        return html_requisites(text, exchange.url)

    def _enqueue(self, found: Found, found_in: str, depth: int) -> None:
        """Queue what a document at `depth` (the page 0, a stylesheet it links 1) names."""
        for skip in found.skipped:
            if skip.url not in self.seen:
                self.seen.add(skip.url)
                self._skip(skip.url, skip.reason, skip.detail, skip.kind, skip.source, found_in)
        for requisite in found.requisites:
            if requisite.url not in self.seen:
                self.seen.add(requisite.url)
                self.queue.append(_Item(requisite, found_in, depth + 1))

    def _admit(self, item: _Item) -> Settings | None:
        """The settings to fetch `item` with, or None (and the reason recorded) if it is not fetched."""
        s = self.settings
        left = s.requisites_deadline - (time.monotonic() - self.started)
        budget = s.requisites_max_bytes - self.bytes
        reason = None
        if item.requisite.kind == STYLESHEET and item.depth > s.requisite_css_depth:
            reason = (TOO_DEEP, f"a stylesheet {item.depth} levels deep; @import chains are "
                                f"followed {s.requisite_css_depth} levels (ARCHIVER_REQUISITE_CSS_DEPTH)")
        elif self.attempted >= s.max_requisites:
            reason = (OVER_COUNT, f"the capture already fetched {s.max_requisites} requisites "
                                  "(ARCHIVER_MAX_REQUISITES)")
        elif budget <= 0 or self.bytes_exhausted:
            reason = (OVER_BYTES, f"the {s.requisites_max_bytes} bytes allowed for requisites "
                                  f"(ARCHIVER_REQUISITES_MAX_BYTES) are used up ({self.bytes} archived)")
        elif left < MIN_TIME_LEFT:
            reason = (DEADLINE, f"the {s.requisites_deadline:g} s allowed for requisites "
                                "(ARCHIVER_REQUISITES_DEADLINE) ran out")
        if reason is not None:
            self._skip_item(item, *reason)
            return None
        self.attempted += 1
        return s.with_overrides(total_deadline=min(s.total_deadline, left),
                                max_body_bytes=min(s.max_body_bytes, budget))

    def _take(self, item: _Item, future: Future) -> None:
        """Account for one finished fetch, in found order."""
        try:
            result: FetchResult = future.result()
        except Exception as exc:   # noqa: BLE001 - a custom fetcher's bug costs one requisite
            log.exception("fetching requisite %s failed", item.requisite.url)
            self._skip_item(item, "internal", f"{type(exc).__name__}: {exc}")
            return
        answered = [ex for ex in result.exchanges if ex.status is not None]
        size = sum(ex.payload_length for ex in answered)
        limit = self.settings.requisites_max_bytes
        if answered and (self.bytes_exhausted or self.bytes + size > limit):
            # fetched alongside others that used up the budget: kept out of the archive, and
            # so is everything after it (never a later, smaller one cut to fit)
            self.bytes_exhausted = True
            self.unwritten.append(result)
            self._skip_item(item, OVER_BYTES,
                            f"{size} bytes arrived when {max(limit - self.bytes, 0)} of the {limit} "
                            "allowed for requisites (ARCHIVER_REQUISITES_MAX_BYTES) were left; "
                            "not archived")
            return
        if not answered:
            self.unwritten.append(result)
            self._skip_item(item, result.error_code or "unknown", result.error or "no response")
            return
        self.results.append(result)
        self.bytes += size
        final = answered[-1]
        if result.error_code:
            # a redirect was archived, its target was not (refused, loop, ...)
            self._skip_item(item, result.error_code, result.error or "", archived_hops=len(answered))
            return
        entry = {
            "url": item.requisite.url, "kind": item.requisite.kind, "source": item.requisite.source,
            "found_in": item.found_in, "status": final.status, "content_type": final.content_type,
            "payload_size": final.payload_length, "payload_sha256": final.payload_sha256,
            "truncated": final.truncated, "ip": final.ip, "port": final.port,
            "started_at": final.started_at.isoformat(),
        }
        if final.url != item.requisite.url:
            entry["final_url"] = final.url
        self.fetched.append(entry)
        if final.status and 200 <= final.status < 300 and _is_css(item.requisite, final):
            self._read_css(item, final, entry)

    def _read_css(self, item: _Item, exchange: Exchange, entry: dict) -> None:
        try:
            body = decode_content(exchange, self.settings.max_decoded_bytes)
        except DecodeError as exc:
            entry["css_error"] = f"could not decode the stylesheet: {exc}"
            return
        text, _encoding = decode(body, exchange.content_type)
        self._enqueue(css_requisites(text, exchange.url), exchange.url, depth=item.depth)

    # -- bookkeeping -------------------------------------------------------------------
    def _skip_item(self, item: _Item, reason: str, detail: str, **extra) -> None:
        r = item.requisite
        self._skip(r.url, reason, detail, r.kind, r.source, item.found_in, **extra)

    def _skip(self, url: str, reason: str, detail: str, kind: str | None, source: str | None,
              found_in: str, **extra) -> None:
        entry = Skip(url, reason, detail, kind, source).as_dict()
        entry["found_in"] = found_in
        entry.update(extra)
        self.skipped.append(entry)

    def harvest(self) -> Harvest:
        summary: dict = {}
        if self.ran or self.summary_error:
            s = self.settings
            summary = {
                "limits": {"max_count": s.max_requisites, "max_bytes": s.requisites_max_bytes,
                           "deadline_seconds": s.requisites_deadline,
                           "css_depth": s.requisite_css_depth,
                           "concurrency": s.requisite_concurrency},
                "fetched": self.fetched,
                "skipped": self.skipped,
                "bytes": self.bytes,
                "seconds": round(time.monotonic() - self.started, 3),
            }
            if self.summary_error:
                summary["error"] = self.summary_error
        return Harvest(results=self.results, summary=summary, unwritten=self.unwritten)

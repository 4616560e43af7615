"""One browser-mode fetch: the page fetched as in plain mode, then loaded in Chromium.

    result = fetch_in_browser(url, settings, fetcher, seconds)   # a BrowserFetch; never raises
                                                                 # for the browser's trouble

The page's own fetch (redirects, guard, exact bytes) is the plain fetcher's; the browser
is then pointed at the final URL and given that response, and every further request it
makes goes through archiver/browser/exchanges.py. The browser is always shut down and its
profile removed, also after an error or when time runs out.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

from archiver.browser.budget import LAUNCH_SECONDS
from archiver.browser.exchanges import Exchanges, Fetcher
from archiver.browser.launch import chromium_args, dead_port, fresh_profile
from archiver.browser.render import Rendering, render
from archiver.browser.result import BrowserFetch
from archiver.config import Settings
from archiver.fetch import FetchResult
from archiver.requisites import is_html

log = logging.getLogger(__name__)

# Celery's time limit exceptions must reach the task; every other failure of the browser
# costs the rendering, never the page (named, so that domain code does not import Celery)
_TIME_LIMITS = ("SoftTimeLimitExceeded", "TimeLimitExceeded")


def fetch_in_browser(url: str, settings: Settings, fetcher: Fetcher, seconds: float) -> BrowserFetch:
    page: FetchResult = fetcher(url, settings)
    result = BrowserFetch.of(page)
    width, height = settings.browser_viewport
    result.browser = {"name": "chromium", "executable": settings.browser_path,
                      "viewport": {"width": width, "height": height},
                      "deadline_seconds": round(seconds, 3), "rendered": False}
    why_not = _why_not_rendered(page, settings, seconds)
    if why_not:
        result.browser["not_rendered"] = why_not
        return result
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=settings.requisite_concurrency,
                              thread_name_prefix="browser-fetch")
    exchanges = Exchanges(fetcher, settings, pool, deadline_at=started + seconds)   # reset once launched
    exchanges.serve(page.final.url, page.final)
    rendering = Rendering()
    try:
        asyncio.run(_drive(settings, page.final.url, exchanges, rendering, result.browser))
        result.browser["rendered"] = rendering.dom is not None
    except Exception as exc:   # noqa: BLE001 - see _TIME_LIMITS
        if type(exc).__name__ in _TIME_LIMITS:
            raise
        log.exception("the browser failed on %s; the page is stored as fetched", url)
        result.browser["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}"
    finally:
        exchanges.closed = True
        pool.shutdown(wait=True)
        _fill(result, exchanges, rendering, settings, time.monotonic() - started)
    return result


def _why_not_rendered(page: FetchResult, settings: Settings, seconds: float) -> str | None:
    if page.error_code or page.final is None or page.final.status is None:
        return "the page's own fetch failed"
    if not is_html(page.final):
        return f"not an HTML page ({page.final.content_type or 'no Content-Type'})"
    if seconds < 1:
        return "no time was left for the browser within the task's time limit"
    if not os.access(settings.browser_path, os.X_OK):
        return (f"no browser at {settings.browser_path}: install Chromium (apt-get install chromium) "
                "or set ARCHIVER_BROWSER_PATH")
    return None


async def _drive(settings: Settings, url: str, exchanges: Exchanges, rendering: Rendering,
                 facts: dict) -> None:
    from playwright.async_api import async_playwright

    width, height = settings.browser_viewport
    with dead_port() as proxy_port, fresh_profile() as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile, executable_path=settings.browser_path, headless=True,
                args=chromium_args(proxy_port), viewport={"width": width, "height": height},
                service_workers="block", accept_downloads=False, timeout=LAUNCH_SECONDS * 1000)
            # the deadline runs from here: starting Chromium has its own limit (LAUNCH_SECONDS)
            exchanges.deadline_at = time.monotonic() + facts["deadline_seconds"]
            try:
                if context.browser is not None:
                    facts["version"] = context.browser.version
                await context.route("**/*", exchanges.handle)
                await context.route_web_socket(re.compile(r".*"), exchanges.handle_websocket)
                page = context.pages[0] if context.pages else await context.new_page()
                done = await render(page, url, exchanges, exchanges.deadline_at)
                vars(rendering).update(vars(done))
            finally:
                exchanges.closed = True
                await context.close()


def _fill(result: BrowserFetch, exchanges: Exchanges, rendering: Rendering, settings: Settings,
          seconds: float) -> None:
    result.subresources = exchanges.archived()
    result.unwritten = exchanges.unwritten
    result.screenshot, result.dom = rendering.screenshot, rendering.dom
    facts = result.browser
    facts.update({
        "user_agent": rendering.user_agent,
        "request_headers": "sent by the archiver's fetcher, with its User-Agent "
                           "(ARCHIVER_USER_AGENT), not the browser's",
        "loaded": rendering.loaded, "settled": rendering.settled,
        "scroll_steps": rendering.scroll_steps, "seconds": round(seconds, 3),
        "limits": {"max_exchanges": settings.browser_max_exchanges,
                   "max_bytes": settings.browser_max_bytes},
        "exchanges": len(exchanges.fetched), "requests": exchanges.requests,
        "bytes": exchanges.bytes, "blocked": exchanges.blocked,
    })
    if rendering.notes:
        facts["notes"] = rendering.notes
    if rendering.screenshot is not None:
        w, h = rendering.screenshot_size or (None, None)
        facts["screenshot"] = {"type": "image/png", "width": w, "height": h,
                               "cut": rendering.screenshot_cut, "size": len(rendering.screenshot),
                               "sha256": hashlib.sha256(rendering.screenshot).hexdigest()}
    if rendering.dom is not None:
        dom = rendering.dom.encode("utf-8")
        facts["dom"] = {"type": "text/html", "size": len(dom), "sha256": hashlib.sha256(dom).hexdigest(),
                        "title": rendering.title}
    result.requests = {
        "by": "browser",
        "limits": {"max_count": settings.browser_max_exchanges, "max_bytes": settings.browser_max_bytes,
                   "deadline_seconds": facts.get("deadline_seconds")},
        "fetched": exchanges.fetched, "skipped": exchanges.blocked,
        "bytes": exchanges.bytes, "seconds": round(seconds, 3),
    }

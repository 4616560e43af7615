"""What the capture pipeline (archiver/capture.py) asks of a capture's mode.

    result = fetch_page(fetcher, settings, capture)       # plain fetch, or the page in Chromium
    extraction = better_text(settings, result, extraction) # the rendered DOM's text, if longer
    harvest = browser_harvest(result)                      # None in plain mode: fetch requisites
    resources = browser_resources(result)                  # screenshot and DOM records
    capture.browser = browser_facts(result)                # provenance, None in plain mode
"""
from __future__ import annotations

from datetime import datetime, timezone

from archiver.browser.budget import browser_seconds
from archiver.browser.exchanges import Fetcher
from archiver.browser.modes import BROWSER, PLAIN
from archiver.browser.result import BrowserFetch
from archiver.config import Settings
from archiver.extract import Extraction, extract
from archiver.fetch import FetchResult
from archiver.requisites import Harvest
from archiver.warc.records import Resource

SCREENSHOT_URN, DOM_URN = "urn:screenshot:", "urn:dom:"
SCREENSHOT_TYPE, DOM_TYPE = "image/png", "text/html; charset=utf-8"


def fetch_page(fetcher: Fetcher, settings: Settings, capture) -> FetchResult:
    """The one place the mode decides how a capture's page is fetched."""
    if (capture.mode or PLAIN) != BROWSER:
        return fetcher(capture.requested_url, settings)
    from archiver.browser.session import fetch_in_browser   # loads Playwright only when needed
    return fetch_in_browser(capture.requested_url, settings, fetcher,
                            browser_seconds(settings, capture.started_at))


def better_text(settings: Settings, result: FetchResult, extraction: Extraction | None):
    """The text of the rendered DOM when it gives more than the raw HTML's, else `extraction`.
    Which one was taken is noted in the browser provenance ("text_from")."""
    if not isinstance(result, BrowserFetch) or result.dom is None:
        return extraction
    url = result.final.url if result.final else result.requested_url
    rendered = extract(result.dom.encode("utf-8")[:settings.max_decoded_bytes], url=url,
                       content_type=DOM_TYPE)
    raw_length = len(extraction.text) if extraction is not None and extraction.text else 0
    if len(rendered.text or "") > raw_length:
        result.browser["text_from"] = "rendered DOM"
        return rendered
    result.browser["text_from"] = "raw HTML"
    return extraction


def browser_harvest(result: FetchResult) -> Harvest | None:
    """The page's requests in the browser, as the requisites of the capture (written with it
    by the same WARC code); None for a plain fetch, whose requisites are fetched afterwards."""
    if not isinstance(result, BrowserFetch) or (not result.browser.get("rendered")
                                                and not result.subresources):
        return None
    harvest = Harvest(results=result.subresources, summary=result.requests,
                      unwritten=result.unwritten)
    result.subresources, result.unwritten = [], []     # the harvest closes them now
    return harvest


def browser_resources(result: FetchResult) -> list[Resource]:
    """The screenshot (PNG) and rendered DOM (HTML) as `resource` records."""
    if not isinstance(result, BrowserFetch):
        return []
    url = result.final.url if result.final else result.requested_url
    now = datetime.now(timezone.utc)
    made = []
    if result.screenshot is not None:
        made.append(Resource(SCREENSHOT_URN + url, SCREENSHOT_TYPE, result.screenshot, now))
    if result.dom is not None:
        made.append(Resource(DOM_URN + url, DOM_TYPE, result.dom.encode("utf-8"), now))
    return made


def browser_facts(result: FetchResult) -> dict | None:
    return result.browser if isinstance(result, BrowserFetch) else None

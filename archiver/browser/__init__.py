"""Browser-mode captures: the page loaded in headless Chromium, every request it makes
fetched by the project's guarded fetcher and archived, a screenshot and the rendered DOM
kept as resource records (docs/browser-capture.md).

    result = fetch_page(fetcher, settings, capture)     # archiver/capture.py's dispatch point

Playwright is imported only when a browser capture runs.
"""
from archiver.browser.modes import BROWSER, MODES, PLAIN, InvalidMode, check_mode
from archiver.browser.pipeline import (DOM_URN, SCREENSHOT_URN, better_text, browser_facts,
                                       browser_harvest, browser_resources, fetch_page)
from archiver.browser.result import BrowserFetch

__all__ = ["PLAIN", "BROWSER", "MODES", "InvalidMode", "check_mode", "fetch_page", "better_text",
           "browser_harvest", "browser_resources", "browser_facts", "BrowserFetch",
           "SCREENSHOT_URN", "DOM_URN"]

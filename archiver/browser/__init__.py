"""Browser-mode captures: the page loaded in headless Chromium, every request it makes
fetched by the project's guarded fetcher and archived, a screenshot and the rendered DOM
kept as resource records (docs/browser-capture.md).

    result = pipeline.fetch_page(fetcher, settings, capture)   # archiver/capture.py

Playwright is imported only when a browser capture runs.
The pipeline (archiver/browser/pipeline.py) is imported by the capture itself, not here:
the submission paths import the modes, and need none of it.
"""
from archiver.browser.modes import BROWSER, MODES, PLAIN, InvalidMode, check_mode

__all__ = ["PLAIN", "BROWSER", "MODES", "InvalidMode", "check_mode"]

"""What a browser-mode fetch produces: the page's own fetch, plus what the browser did."""
from __future__ import annotations

from dataclasses import dataclass, field

from archiver.fetch import FetchResult


@dataclass
class BrowserFetch(FetchResult):
    """The page fetched as in plain mode (its redirect chain, its final response: the
    capture's main exchange), and, when it was rendered, every request the page made in
    the browser, the screenshot and the rendered DOM."""
    subresources: list[FetchResult] = field(default_factory=list)   # archived, in request order
    unwritten: list[FetchResult] = field(default_factory=list, repr=False)   # closed with them
    screenshot: bytes | None = None          # PNG
    dom: str | None = None                   # the document as the browser ended up with it
    # provenance (Capture.browser): browser name and version, user agent, viewport, timings,
    # limits, what was blocked and why
    browser: dict = field(default_factory=dict)
    # the same shape as a plain capture's requisites summary (Capture.requisites)
    requests: dict = field(default_factory=dict)

    @classmethod
    def of(cls, page: FetchResult) -> "BrowserFetch":
        return cls(requested_url=page.requested_url, exchanges=page.exchanges,
                   error_code=page.error_code, error=page.error)

    def close(self) -> None:
        super().close()
        for result in self.subresources + self.unwritten:
            result.close()

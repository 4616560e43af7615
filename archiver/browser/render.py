"""Loading one page in the browser: navigate, scroll so lazy content loads, wait for the
network to settle, then take a full-page screenshot and the rendered DOM.

Each step has its share of one deadline; a step that runs out is noted and the next one
still runs, so a page that never settles is still photographed and its DOM kept.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# Scroll one viewport at a time, with a pause for observers to fire and requests to start;
# bounded, because an infinite feed grows as fast as it is scrolled.
SCROLL_STEPS = 40
SCROLL_PAUSE_MS = 150
SCROLL_SCRIPT = """async ([steps, pause]) => {
  const height = () => Math.max(document.documentElement.scrollHeight,
                                document.body ? document.body.scrollHeight : 0);
  let y = 0, step = 0;
  while (step < steps && y + innerHeight < height()) {
    y += innerHeight; step += 1;
    window.scrollTo(0, y);
    await new Promise(done => setTimeout(done, pause));
  }
  window.scrollTo(0, 0);
  return {steps: step, height: height()};
}"""
# Chromium does not paint screenshots taller than this; a longer page is cut and said so.
MAX_SCREENSHOT_HEIGHT = 16_000
FINISH_SECONDS = 15.0       # for the screenshot and the DOM, after the deadline if need be


@dataclass
class Rendering:
    screenshot: bytes | None = None
    screenshot_size: tuple[int, int] | None = None     # width, height in CSS pixels
    screenshot_cut: bool = False
    dom: str | None = None
    title: str | None = None
    user_agent: str | None = None
    loaded: bool = False            # the load event fired within the deadline
    settled: bool = False           # then no request was in flight for a moment
    scroll_steps: int = 0
    notes: list[str] = field(default_factory=list)   # what did not go as planned, for provenance


async def render(page, url: str, exchanges, deadline_at: float) -> Rendering:
    from playwright.async_api import Error as PlaywrightError

    out = Rendering()

    def ms_left() -> float:
        return max((deadline_at - time.monotonic()) * 1000, 1)

    try:
        out.user_agent = await page.evaluate("navigator.userAgent")
    except PlaywrightError:
        pass
    try:
        await page.goto(url, wait_until="load", timeout=ms_left())
        out.loaded = True
    except PlaywrightError as exc:
        out.notes.append(f"load: {_short(exc)}")
    if time.monotonic() < deadline_at:
        try:
            scrolled = await page.evaluate(SCROLL_SCRIPT, [SCROLL_STEPS, SCROLL_PAUSE_MS])
            out.scroll_steps = int(scrolled.get("steps", 0))
        except PlaywrightError as exc:
            out.notes.append(f"scroll: {_short(exc)}")
    out.settled = await exchanges.settle(deadline_at)
    if not out.settled:
        out.notes.append("the network had not settled when the deadline came")
    finish_at = max(deadline_at, time.monotonic()) + FINISH_SECONDS
    finish_ms = lambda: max((finish_at - time.monotonic()) * 1000, 1)   # noqa: E731
    try:
        out.screenshot, out.screenshot_size, out.screenshot_cut = await _screenshot(page, finish_ms())
    except PlaywrightError as exc:
        out.notes.append(f"screenshot: {_short(exc)}")
    try:
        out.dom = await page.content()
        out.title = await page.title()
    except PlaywrightError as exc:
        out.notes.append(f"dom: {_short(exc)}")
    return out


async def _screenshot(page, timeout_ms: float) -> tuple[bytes, tuple[int, int], bool]:
    width, height = await page.evaluate(
        "() => [document.documentElement.scrollWidth, Math.max(document.documentElement.scrollHeight,"
        " document.body ? document.body.scrollHeight : 0)]")
    viewport = page.viewport_size or {"width": width, "height": height}
    width = max(int(viewport["width"]), 1)
    cut = height > MAX_SCREENSHOT_HEIGHT
    height = max(min(int(height), MAX_SCREENSHOT_HEIGHT), 1)
    data = await page.screenshot(type="png", full_page=True, timeout=timeout_ms,
                                 clip={"x": 0, "y": 0, "width": width, "height": height},
                                 animations="disabled")
    return data, (width, height), cut


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]

"""In a real browser: Debian's Chromium driven by Playwright over the real service (gunicorn
web app, a celery worker on the real Redis, `archiver replay` on its own origin) capturing
from the fixture site on 127.0.0.1.

A person's path: submit a URL in the form, watch the progress page, open the capture and its
snapshot (image and stylesheet replayed), capture again after the page changed, open the diff.
An attacker's path: a captured page whose script goes for the app's cookie, its API, its
forms and the framing page, replayed in the app's iframe and opened top-level ("open" and
"raw" links). Every attempt must fail while the page's own script still runs.

One browser and one service for the module; each test has its own browser context.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import service_missing
from tests.live_service import live_service

CHROMIUM = Path("/usr/bin/chromium")
# NOTES.md: without the background-networking flags Chromium keeps trying to reach the internet
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 60_000          # generous: a wait that ends as soon as the page is there
HOSTILE_ATTEMPTS = {"cookie", "parent", "top", "api", "api-simple", "form-fetch", "form-submit", "frame-app"}


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        service_missing(f"Chromium at {CHROMIUM}", "not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() starts Chromium on a fresh temporary profile of its own, removed at close
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_url, fixture_site):
    with live_service(tmp_path_factory.mktemp("browser") / "data", redis_url, fixture_site,
                      replay=True) as svc:
        yield svc


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    context.console_lines = []      # every console line of its pages, popups and frames
    context.on("console", lambda message: context.console_lines.append(message.text))
    context.sent = []               # (method, url) of every request it made
    context.on("request", lambda request: context.sent.append((request.method, request.url)))
    context.answered = []           # (method, url, status) of every response it had
    context.on("response", lambda r: context.answered.append((r.request.method, r.url, r.status)))
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def submit_in_form(page, service, url: str) -> int:
    """Type `url` into the form at /, press Capture, wait until the progress page says stored."""
    page.goto(service.base + "/")
    page.fill("#urls", url)
    page.click("form.submit button[type=submit]")
    page.wait_for_url(lambda address: "/captures?ids=" in address)
    page.locator("#poll-status", has_text="All captures finished.").wait_for()   # its own polling
    row = page.locator("table.captures tbody tr").first
    assert row.locator(".state").text_content() == "stored", row.text_content()
    return int(row.get_attribute("data-id"))


def snapshot_frame(page, selector: str):
    """The capture page's replay iframe, once its document has loaded and shows `selector`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    element = page.locator("iframe#snapshot")
    element.scroll_into_view_if_needed()     # the iframe is loading="lazy"
    frame = element.element_handle().content_frame()
    frame.wait_for_load_state("load")
    try:
        frame.locator(selector).wait_for()
    except PlaywrightTimeout:
        raise AssertionError(f"the snapshot at {frame.url} shows no {selector}:\n{frame.content()[:2000]}")
    return frame


def test_capture_in_the_form_replay_the_snapshot_and_diff_a_recapture(page, service, fixture_site):
    url = fixture_site.url("/browser/page")
    first = submit_in_form(page, service, url)

    page.click(f"#capture-{first} a")
    page.wait_for_url(f"**/captures/{first}")
    assert page.text_content("#state") == "stored"
    before = len(fixture_site.requests)
    frame = snapshot_frame(page, "#changing")
    assert frame.url.startswith(service.replay_base + "/web/"), frame.url
    assert "nine o'clock" in frame.text_content("#changing")

    frame.wait_for_function("document.getElementById('photo').complete")
    width = frame.evaluate("document.getElementById('photo').naturalWidth")
    assert width > 0, "the archived image did not replay"
    colour = frame.evaluate("getComputedStyle(document.querySelector('.lede')).color")
    assert colour == "rgb(0, 102, 51)", "the archived stylesheet was not applied"
    assert fixture_site.requests[before:] == [], "replay reached the live site"

    fixture_site.browser_edition = 2
    try:
        second = submit_in_form(page, service, url)
    finally:
        fixture_site.browser_edition = 1
    page.click(f"#capture-{second} a")
    page.click("text=All captures of this URL")
    page.wait_for_url(lambda address: "/history?url=" in address)
    page.click(f"a[href$='/captures/{first}/diff/{second}']")
    page.wait_for_url(lambda address: f"/captures/{first}/diff/{second}" in address)
    changed = page.locator("table.diff tr.op-replace")
    assert changed.count() == 1
    deleted, inserted = changed.locator("del"), changed.locator("ins")
    assert any("nine" in t for t in deleted.all_text_contents()), changed.text_content()
    assert any("ten" in t for t in inserted.all_text_contents()), changed.text_content()
    for mark in (deleted.first, inserted.first):   # highlighted: a background of its own
        assert mark.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    unchanged = page.locator("table.diff tr.op-equal")
    assert unchanged.count() >= 1 and unchanged.locator("ins, del").count() == 0


# --- a hostile archived page --------------------------------------------------------------

SECRET = "s3cr3t-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def hostile(service, fixture_site) -> int:
    """A stored capture of a page whose script attacks the app at `service.base`."""
    response = service.submit(url=fixture_site.url(f"/browser/hostile?app={quote(service.base, safe='')}"))
    assert response.status_code == 202, response.text
    capture = service.wait(response.json()["ids"][0])
    assert capture["state"] == "stored", capture
    return capture["id"]


def with_app_cookie(page, service) -> None:
    """A script-readable cookie of the app's host; 127.0.0.1 cookies are shared by every port.
    (The app's own session cookie is HttpOnly, so no script reads it at all: this one stands
    for anything a page script could read, docs/accounts.md.)"""
    page.context.add_cookies([{"name": "archiver_probe", "value": SECRET, "url": service.base}])
    page.goto(service.base + "/")
    assert SECRET in page.evaluate("document.cookie")   # the app's own pages can read it


def outcomes(frame) -> dict[str, str]:
    """Run the hostile page's script to its end and read what it wrote into its own DOM."""
    frame.locator("#done", has_text="all attempts settled").wait_for()
    assert frame.text_content("#ran") == "hostile script ran"
    found = frame.eval_on_selector_all("#results li", "items => items.map(li => [li.id, li.textContent])")
    return {key.removeprefix("attempt-"): value for key, value in found}


def writes_to_app(entries, service) -> list:
    return [e for e in entries if e[0] not in ("GET", "HEAD", "OPTIONS") and e[1].startswith(service.base + "/")]


def assert_no_capture_was_made(service, fixture_site) -> None:
    baits = [c for c in service.captures() if "/browser/bait" in c["url"]]
    assert baits == [], "the hostile page made the app capture: " + repr(baits)
    assert not [r for r in fixture_site.requests if r.startswith("/browser/bait")]


def assert_all_attempts_failed(page, frame, service, fixture_site, framed: bool) -> None:
    found = outcomes(frame)
    assert set(found) == HOSTILE_ATTEMPTS, found
    assert SECRET not in frame.content() and all(SECRET not in v for v in found.values()), found
    assert found["cookie"] == "blocked: SecurityError", found
    if framed:
        assert found["parent"] == "blocked: SecurityError" and found["top"] == "blocked: SecurityError", found
    else:
        assert found["parent"] == "none: top-level" and found["top"] == "none: top-level", found
    assert found["api"] == "blocked: TypeError", found          # no answer reaches the script
    for name in ("api-simple", "form-fetch"):                   # sent blind at most, and refused
        assert found[name] in ("blocked: TypeError", "sent: opaque"), found
    assert found["form-submit"] == found["frame-app"] == "called", found
    lines = page.context.console_lines
    wait_until(page, lambda: any("Blocked form submission" in line for line in lines), lines)
    # the replay layer kept every write on the replay origin: none was even sent to the app
    assert writes_to_app(page.context.sent, service) == [], page.context.sent
    assert_no_capture_was_made(service, fixture_site)


def wait_until(page, condition, shown) -> None:
    """Wait (generously, ending as soon as it holds) until `condition()` is true."""
    for _ in range(600):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"still not so after 60 s: {shown}")


def test_hostile_page_in_the_snapshot_frame_fails_at_everything(page, service, fixture_site, hostile):
    with_app_cookie(page, service)
    page.goto(f"{service.base}/captures/{hostile}")
    assert page.get_attribute("iframe#snapshot", "sandbox") == "allow-scripts"
    frame = snapshot_frame(page, "#results")
    assert frame.url.startswith(service.replay_base + "/web/")
    assert_all_attempts_failed(page, frame, service, fixture_site, framed=True)
    assert page.url == f"{service.base}/captures/{hostile}"     # the app page was not navigated


@pytest.mark.parametrize("link", ["open", "raw"])
def test_hostile_page_opened_top_level_fails_at_everything(page, service, fixture_site, hostile, link):
    with_app_cookie(page, service)
    page.goto(f"{service.base}/captures/{hostile}")
    with page.context.expect_page() as opened:
        page.click(f".links a:text-is('{link}')")
    replayed = opened.value
    replayed.wait_for_load_state("load")
    assert replayed.url.startswith(service.replay_base + "/web/")
    assert_all_attempts_failed(replayed, replayed.main_frame, service, fixture_site, framed=False)


def test_the_same_script_unsandboxed_reads_the_cookie_and_the_app_refuses_its_writes(page, service, fixture_site):
    """The control: the hostile page live on another port of 127.0.0.1, as any other site.

    It reads the app's cookie (a port is no cookie boundary: only the sandbox stops that),
    and its writes reach the app, which refuses them: a browser request from another origin
    may change nothing, whatever the replay layer does."""
    with_app_cookie(page, service)
    page.goto(fixture_site.url(f"/browser/hostile?app={quote(service.base, safe='')}"))
    found = outcomes(page.main_frame)
    assert found["cookie"] == f"read: archiver_probe={SECRET}", found
    assert found["api"] == "blocked: TypeError", found     # no CORS: the answer stays unreadable
    assert found["api-simple"] == found["form-fetch"] == "sent: opaque", found
    answered = page.context.answered
    wait_until(page, lambda: len(writes_to_app(answered, service)) == 3, answered)
    assert sorted(writes_to_app(answered, service)) == sorted([
        ("POST", f"{service.base}/api/v1/captures", 403),   # api-simple
        ("POST", f"{service.base}/captures", 403),          # form-fetch
        ("POST", f"{service.base}/captures", 403),          # form-submit
    ])
    assert_no_capture_was_made(service, fixture_site)
    # and the app refuses to be shown inside it (its CSP frame-ancestors 'none')
    lines = page.context.console_lines
    wait_until(page, lambda: any("frame-ancestors 'none'" in line for line in lines), lines)

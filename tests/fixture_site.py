"""The fixture web site the tests capture from: a small HTTP/1.1 server on 127.0.0.1.

In tests, use the session fixture `fixture_site` (or `FixtureSite()` as a context
manager; `FixtureSite(host="::1")` serves on IPv6 loopback, `ssl_context=` serves HTTPS).
As its own process:  python -m tests.fixture_site --port 8123

Routes
  /article          a news article (nav, header, footer, headline "Fixture headline")
  /plain.txt        plain text
  /404, /500        error pages with those statuses
  /redirect/N       N redirects (301, 302, 307 in turn; one relative Location) to /article
  /loop/a, /loop/b  redirect to each other forever
  /redirect-to?url=U[&status=S]   redirect to any URL
  /slow             headers, then one byte a second for 60 s
  /slow-headers     waits 60 s before answering
  /big?mb=N         N MiB of bytes
  /doc.pdf          a valid one-page PDF reading "Fixture PDF text"
  /image.png        a 16 x 16 PNG
  /arabic           an Arabic article encoded in windows-1256 (charset in Content-Type)
  /gzip             the article with Content-Encoding: gzip
  /chunked          the article with Transfer-Encoding: chunked
  /changing         a page whose content changes on every request
  any path in `site.pages`   what the test put there: site.set_page(path, body, status=200,
                    headers=[...]), or site.set_page_sequence(path, [body, ...]) to serve
                    the n-th body to the n-th request, the last one from then on
                    (watch tests change a page between scheduled runs)
  /browser/...      pages for tests/test_browser.py (see that block)
  /requisites/...   pages with images, stylesheets, fonts... for tests/test_requisites.py
  /changes/...      unchanged, "text unchanged" and changed pages for tests/test_changes.py
Every request path (with its query) is appended to `site.requests`.
"""
from __future__ import annotations

import argparse
import gzip
import json
import socket
import ssl
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fixture headline | The Daily Fixture</title>
<meta name="description" content="A council votes to restore the old harbour lighthouse.">
<meta name="author" content="Ada Example">
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header class="masthead"><a href="/">The Daily Fixture</a></header>
<nav class="site-nav">
  <ul><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li>
  <li><a href="/culture">Culture</a></li><li><a href="/about">About us</a></li></ul>
</nav>
<main>
<article>
  <h1>Fixture headline</h1>
  <p class="byline">By Ada Example, harbour correspondent. Published 3 March 2025.</p>
  <img src="/image.png" alt="The harbour lighthouse at dusk" width="16" height="16">
  <p>The town council voted on Tuesday evening to restore the old harbour lighthouse, which
  has stood dark since the storms of the winter before last. The decision followed a long
  public meeting in which fishermen, shop owners and schoolchildren spoke in its favour.</p>
  <p>Work on the stone tower is expected to begin in the spring. The engineers who surveyed it
  found the foundations sound, though the lantern room will need new glass and the iron
  stairway must be replaced from the second landing upwards.</p>
  <p>"A harbour without its light is only half a harbour," said the council's chair, who
  promised that the restored lamp would be lit at a ceremony open to everyone in town.</p>
  <p>The cost will be shared between the council, a regional heritage fund and a public
  appeal, which has already raised more than a third of the money needed.</p>
</article>
</main>
<aside class="related"><h2>Related</h2><ul><li><a href="/news/ferry">Ferry timetable changes</a></li></ul></aside>
<footer class="site-footer"><p>&copy; 2025 The Daily Fixture. All rights reserved.</p>
<p><a href="/privacy">Privacy</a> | <a href="/contact">Contact</a></p></footer>
</body>
</html>
"""

ARABIC_HTML = """<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head><title>افتتاح مكتبة جديدة في المدينة</title></head>
<body>
<nav><a href="/">الرئيسية</a> | <a href="/news">أخبار</a></nav>
<article>
<h1>افتتاح مكتبة جديدة في المدينة</h1>
<p>افتتحت البلدية صباح اليوم مكتبة عامة جديدة في وسط المدينة، تضم آلاف الكتب باللغتين العربية والإنجليزية.</p>
<p>وقال مدير المكتبة إن القاعات ستبقى مفتوحة حتى ساعة متأخرة من المساء لتشجيع الطلاب على القراءة والدراسة.</p>
<p>وتأمل البلدية أن تصبح المكتبة مكانا يلتقي فيه سكان الأحياء المختلفة.</p>
</article>
<footer>جميع الحقوق محفوظة</footer>
</body>
</html>
"""

PLAIN_TEXT = "Fixture plain text.\nSecond line of the plain text file.\n"
PDF_TEXT = "Fixture PDF text"


def build_pdf(text: str = PDF_TEXT) -> bytes:
    """A minimal valid one-page PDF (Helvetica text), with a correct cross-reference table."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def build_png(size: int = 16) -> bytes:
    """A small RGB gradient PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // (size - 1), y * 255 // (size - 1), 128)) for x in range(size))
        for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def error_page(status: int, title: str) -> bytes:
    return (f"<!DOCTYPE html>\n<html><head><title>{status} {title}</title></head>\n"
            f"<body><h1>{title}</h1><p>The Daily Fixture could not serve this page.</p></body></html>\n"
            ).encode("utf-8")


# --- pages for tests/test_browser.py (a real browser over app + replay) ----------------
# /browser/page         a page with a stylesheet and an image; one paragraph reads
#                       `site.browser_edition` (tests change it between two captures)
# /browser/style.css    its stylesheet (a colour the test reads back as computed style)
# /browser/hostile?app=ORIGIN   a page whose script attacks the archive app at ORIGIN and
#                       writes the outcome of each attempt into its own DOM (#attempt-NAME)
# /browser/bait?via=NAME        what the hostile script asks the app to capture

BROWSER_CSS = b".lede { color: rgb(0, 102, 51); font-weight: 700; }\n"

BROWSER_EDITIONS = {
    1: "The evening ferry to the island leaves the harbour at nine o'clock from the north pier.",
    2: "The evening ferry to the island now leaves the harbour at ten o'clock from the south pier.",
}


def browser_page(edition: int) -> bytes:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Browser fixture</title>
<link rel="stylesheet" href="/browser/style.css"></head>
<body><main><article>
<h1>Harbour notes</h1>
<p class="lede">The harbour master publishes these notes every week for the people who work on the quays.</p>
<img id="photo" src="/image.png" alt="The harbour at dusk" width="16" height="16">
<p id="changing">{BROWSER_EDITIONS[edition]}</p>
<p>Repairs to the sea wall continue through the month, and the slipway stays closed to trailers until
the new concrete has set. Fishing boats should moor on the inner basin while the work goes on.</p>
</article></main></body></html>
""".encode("utf-8")


HOSTILE_SCRIPT = """
(function () {
  var app = APP, bait = BAIT;
  var pending = [];
  function report(name, outcome) {
    var li = document.createElement("li");
    li.id = "attempt-" + name;
    li.textContent = outcome;
    document.getElementById("results").appendChild(li);
  }
  function attempt(name, run) {      // run() returns an outcome or a promise of one
    var outcome;
    try {
      outcome = Promise.resolve(run());
    } catch (e) {
      outcome = Promise.resolve("blocked: " + e.name);
    }
    pending.push(outcome.catch(function (e) { return "blocked: " + e.name; })
                        .then(function (text) { report(name, text); }));
  }
  document.getElementById("ran").textContent = "hostile script ran";
  attempt("cookie", function () { return "read: " + document.cookie; });
  attempt("parent", function () {
    if (window.parent === window) return "none: top-level";
    return "read: " + window.parent.document.cookie + " | " + window.parent.document.body.innerHTML;
  });
  attempt("top", function () {
    if (window.top === window) return "none: top-level";
    return "read: " + window.top.document.title;
  });
  attempt("api", function () {        // the API, as the app's own script would call it
    return fetch(app + "/api/v1/captures", {
      method: "POST", credentials: "include", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({url: bait + "api"})
    }).then(function (r) { return r.text().then(function (t) { return "read: " + r.status + " " + t; }); });
  });
  attempt("api-simple", function () {  // a "simple" request: no preflight, answer unreadable
    return fetch(app + "/api/v1/captures", {
      method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"},
      body: JSON.stringify({url: bait + "api-simple"})
    }).then(function (r) { return "sent: " + r.type; });
  });
  attempt("form-fetch", function () {  // the form's endpoint, posted as the form would be
    var body = new URLSearchParams();
    body.set("urls", bait + "form-fetch");
    return fetch(app + "/captures", {method: "POST", mode: "no-cors", credentials: "include", body: body})
      .then(function (r) { return "sent: " + r.type; });
  });
  attempt("form-submit", function () {
    var form = document.createElement("form");
    form.method = "post";
    form.action = app + "/captures";
    form.target = "sink";
    var input = document.createElement("input");
    input.name = "urls";
    input.value = bait + "form-submit";
    form.appendChild(input);
    document.body.appendChild(form);
    form.submit();
    return "called";
  });
  attempt("frame-app", function () {   // show the app inside this page (clickjacking)
    var frame = document.createElement("iframe");
    frame.src = app + "/";
    document.body.appendChild(frame);
    return "called";
  });
  Promise.all(pending).then(function () {
    document.getElementById("done").textContent = "all attempts settled";
  });
})();
"""


def hostile_page(app: str, bait: str) -> bytes:
    script = HOSTILE_SCRIPT.replace("APP", json.dumps(app), 1).replace("BAIT", json.dumps(bait), 1)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Hostile fixture</title></head>
<body><h1>Nothing to see here</h1>
<p>This page tries to act with the privileges of the archive that replays it.</p>
<p id="ran">hostile script did not run</p>
<p id="done"></p>
<ul id="results"></ul>
<iframe name="sink" title="sink" width="10" height="10"></iframe>
<script>{script}</script>
</body></html>
""".encode("utf-8")


def browser_route(site: "FixtureSite", path: str, query: dict) -> tuple[int, bytes, str]:
    if path == "/browser/page":
        return 200, browser_page(site.browser_edition), "text/html; charset=utf-8"
    if path == "/browser/style.css":
        return 200, BROWSER_CSS, "text/css"
    if path == "/browser/hostile":
        app = query.get("app", ["http://127.0.0.1:1"])[0]
        return 200, hostile_page(app, site.url("/browser/bait?via=")), "text/html; charset=utf-8"
    if path == "/browser/bait":
        return 200, b"<!DOCTYPE html><html><body><p>bait</p></body></html>", "text/html; charset=utf-8"
    return 404, error_page(404, "Not Found"), "text/html; charset=utf-8"

# --- end of the pages for tests/test_browser.py --------------------------------------


# --- pages for tests/test_requisites.py (what a page loads, archived with it) ---------
# /requisites/page                 a page naming every kind of requisite (below), through
#                                  <base href="/requisites/assets/">
# /requisites/many?n=N             a page with N distinct images
# /requisites/slow-page            an image that trickles (/slow), then an ordinary one
# /requisites/assets/<name>        REQUISITE_ASSETS[name]; garbage.png answers with bytes
#                                  that are not HTTP; anything else is a 404

REQUISITES_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Requisites fixture</title>
<base href="/requisites/assets/">
<link rel="stylesheet" href="main.css">
<link rel="icon" href="favicon.ico">
<link rel="apple-touch-icon" href="touch.png">
<script src="app.js"></script>
<style>.hero { background-image: url("hero.png"); }</style>
</head><body>
<h1 class="hero">Requisites</h1>
<img src="logo.png" alt="logo">
<img src="logo.png" srcset="photo-1x.png 1x, photo-2x.png 2x" alt="photo">
<picture><source srcset="wide.png 800w, narrow.png 400w" media="(min-width: 600px)">
<img src="fallback.png" alt="picture"></picture>
<img src="http://10.0.0.1/x.png" alt="on an internal address">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="inline">
<img src="garbage.png" alt="not HTTP">
<img src="missing.png" alt="a 404">
<a href="elsewhere.html">a link, not a requisite</a>
</body></html>
"""

REQUISITE_ASSETS = {
    # main.css imports more.css, loads a font and a background; more.css imports deeper.css,
    # which imports deepest.css: four stylesheets deep, one more than the default depth
    "main.css": (b'@import "more.css";\n'
                 b'@font-face { font-family: Fixture; src: url(fonts/fixture.woff2) format("woff2"); }\n'
                 b"body { background: url('bg.png') repeat; }\n", "text/css"),
    "more.css": (b"@import url(deeper.css);\n/* url(commented-out.png) */\n"
                 b".more { background-image: url(../assets/more-bg.png); }\n", "text/css"),
    "deeper.css": (b'@import "deepest.css";\n.deeper { color: red; }\n', "text/css"),
    "deepest.css": (b".deepest { color: blue; }\n", "text/css"),
    "fonts/fixture.woff2": (b"wOF2" + bytes(range(64)), "font/woff2"),
    "app.js": (b"document.documentElement.dataset.fixture = 'ran';\n", "application/javascript"),
    "favicon.ico": (build_png(4), "image/x-icon"),
}
# every image its own size, so every one has its own bytes and digest
for _number, _name in enumerate(["touch.png", "hero.png", "logo.png", "photo-1x.png",
                                 "photo-2x.png", "wide.png", "narrow.png", "fallback.png",
                                 "bg.png", "more-bg.png"]):
    REQUISITE_ASSETS[_name] = (build_png(6 + _number), "image/png")


def many_page(n: int) -> bytes:
    images = "".join(f'<img src="/requisites/assets/many-{i}.png" alt="">' for i in range(n))
    return (f"<!DOCTYPE html><html><head><title>Many requisites</title></head>"
            f"<body><p>Many images.</p>{images}</body></html>").encode("utf-8")


def requisites_route(path: str, query: dict) -> tuple[int, bytes, str] | None:
    """(status, body, content type), or None for an answer that is not HTTP."""
    if path == "/requisites/page":
        return 200, REQUISITES_PAGE.encode("utf-8"), "text/html; charset=utf-8"
    if path == "/requisites/slow-page":
        return 200, (b'<!DOCTYPE html><html><head><title>Slow requisite</title></head><body>'
                     b'<img src="/slow"><img src="/requisites/assets/logo.png"></body></html>'), \
            "text/html; charset=utf-8"
    if path == "/requisites/many":
        return 200, many_page(int(query.get("n", ["10"])[0])), "text/html; charset=utf-8"
    name = path.removeprefix("/requisites/assets/")
    if name == "garbage.png":
        return None
    if name.startswith("many-") and name.endswith(".png"):
        return 200, build_png(8), "image/png"
    if name in REQUISITE_ASSETS:
        body, content_type = REQUISITE_ASSETS[name]
        return 200, body, content_type
    return 404, error_page(404, "Not Found"), "text/html; charset=utf-8"

# --- end of the pages for tests/test_requisites.py -----------------------------------


# --- pages for tests/test_changes.py (revisits, "text unchanged", change alerts) ----------
# /changes/stable     the same bytes on every request (a recapture is a WARC revisit)
# /changes/rotating   the same article on every request, but the time it was generated and an
#                     advert change with each request (bytes differ, text the same)
# /changes/revised    an article whose second paragraph names its edition: the number of
#                     requests for it so far (the text changes with every request)

CHANGES_ARTICLE = ("<h1>Harbour wall repaired</h1>"
                   "<p>The old harbour wall, damaged in the winter storms, has been repaired by the "
                   "town's masons after six weeks of work on the stones of its northern arm.</p>")


def changes_route(site, path: str) -> tuple[int, bytes, str]:
    served = sum(1 for seen in site.requests if urlsplit(seen).path == path)
    if path == "/changes/stable":
        body = f"<!DOCTYPE html><html><head><title>Harbour wall</title></head><body><article>{CHANGES_ARTICLE}</article></body></html>"
    elif path == "/changes/rotating":
        body = ("<!DOCTYPE html><html><head><title>Harbour wall</title></head><body>"
                f"<header><p>Page generated at request {served}, 09:{served % 60:02d}:00</p></header>"
                f"<main><article>{CHANGES_ARTICLE}"
                "<p>Traffic on the harbour road will be back to normal from Monday morning.</p>"
                "</article></main>"
                f'<aside class="advert"><p>Advert {served}: ferry tickets at {served} % off</p></aside>'
                f"<footer><p>Generated in {served} ms by the Daily Fixture</p></footer></body></html>")
    elif path == "/changes/revised":
        body = ("<!DOCTYPE html><html><head><title>Harbour wall</title></head><body><article>"
                f"{CHANGES_ARTICLE}<p>This is edition {served} of the report, revised as the masons "
                "finished each section of the wall.</p></article></body></html>")
    else:
        return 404, error_page(404, "Not Found"), "text/html; charset=utf-8"
    return 200, body.encode("utf-8"), "text/html; charset=utf-8"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FixtureSite/1.0"
    disable_nagle_algorithm = True   # headers and body are two writes: don't stall on an ACK
    server: "_Server"

    def log_message(self, format, *args):   # noqa: A002 - quiet in tests
        pass

    def do_GET(self) -> None:  # noqa: N802
        site = self.server.site
        with site.lock:                   # the two lists stay in step
            site.requests.append(self.path)
            site.clients.append(self.client_address[:2])
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        path = parts.path
        try:
            if path in site.pages:
                with site.lock:
                    answers = site.pages[path]
                    status, body, content_type, extra = answers.pop(0) if len(answers) > 1 else answers[0]
                self._send(status, body, content_type, extra=extra)
            elif path in ("/", "/article"):
                self._send(200, site.article, "text/html; charset=utf-8")
            elif path == "/plain.txt":
                self._send(200, PLAIN_TEXT.encode("utf-8"), "text/plain; charset=utf-8")
            elif path == "/404":
                self._send(404, error_page(404, "Not Found"), "text/html; charset=utf-8")
            elif path == "/500":
                self._send(500, error_page(500, "Internal Server Error"), "text/html; charset=utf-8")
            elif path.startswith("/redirect/"):
                self._redirect_chain(path.rsplit("/", 1)[1])
            elif path == "/loop/a":
                self._redirect(302, "/loop/b")
            elif path == "/loop/b":
                self._redirect(302, "/loop/a")
            elif path == "/redirect-to":
                status = int(query.get("status", ["302"])[0])
                self._redirect(status, query.get("url", ["/article"])[0])
            elif path == "/slow":
                self._slow_body()
            elif path == "/slow-headers":
                if not site.stopping.wait(60):
                    self._send(200, b"<html><body>finally</body></html>", "text/html")
            elif path == "/big":
                self._big(int(query.get("mb", ["1"])[0]))
            elif path == "/doc.pdf":
                self._send(200, site.pdf, "application/pdf")
            elif path == "/image.png":
                self._send(200, site.png, "image/png")
            elif path == "/arabic":
                self._send(200, ARABIC_HTML.encode("windows-1256"), "text/html; charset=windows-1256")
            elif path == "/gzip":
                self._send(200, site.article_gzip, "text/html; charset=utf-8",
                           extra=[("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
            elif path == "/chunked":
                self._chunked(site.article, "text/html; charset=utf-8")
            elif path == "/changing":
                with site.lock:
                    site.counter += 1
                    n = site.counter
                body = (f"<!DOCTYPE html><html><head><title>Changing page {n}</title></head>"
                        f"<body><h1>Changing page</h1><p>This page has been served {n} times.</p>"
                        "</body></html>").encode("utf-8")
                self._send(200, body, "text/html; charset=utf-8", extra=[("Cache-Control", "no-store")])
            elif path.startswith("/browser/"):   # tests/test_browser.py (block above)
                self._send(*browser_route(site, path, query))
            elif path.startswith("/requisites/"):   # tests/test_requisites.py (block above)
                answer = requisites_route(path, query)
                if answer is None:                   # not HTTP: the fetcher's "protocol" error
                    self.wfile.write(b"NOT HTTP AT ALL\r\n\r\n")
                    self.close_connection = True
                else:
                    self._send(*answer)
            elif path.startswith("/changes/"):   # tests/test_changes.py (block above)
                self._send(*changes_route(site, path))
            elif path == "/static/site.css":
                self._send(200, b"body { font-family: serif; }\n", "text/css")
            else:
                self._send(404, error_page(404, "Not Found"), "text/html; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str,
              extra: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", "Mon, 03 Mar 2025 09:00:00 GMT")
        for name, value in extra or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        body = f'<html><body><a href="{location}">moved</a></body></html>'.encode("utf-8")
        # raw UTF-8 on the wire, as servers send non-ASCII Locations (send_header writes latin-1)
        wire_location = location.encode("utf-8").decode("latin-1")
        self._send(status, body, "text/html; charset=utf-8", extra=[("Location", wire_location)])

    def _redirect_chain(self, remaining: str) -> None:
        try:
            n = int(remaining)
        except ValueError:
            self._send(404, error_page(404, "Not Found"), "text/html; charset=utf-8")
            return
        if n <= 0:
            self._redirect(302, self.server.site.url("/article"))
            return
        status = (307, 301, 302)[n % 3]
        if n == 1:
            location = self.server.site.url("/article")       # absolute
        elif n == 2:
            location = "/redirect/1"                           # absolute path
        else:
            location = f"{n - 1}"                              # relative to /redirect/
        self._redirect(status, location)

    def _slow_body(self) -> None:
        stopping = self.server.site.stopping
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "60")
        self.end_headers()
        self.wfile.flush()
        for _ in range(60):
            if stopping.wait(1):
                break
            self.wfile.write(b".")
            self.wfile.flush()
        self.close_connection = True

    def _big(self, mib: int) -> None:
        size = mib * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = bytes(range(256)) * 256   # 64 KiB
        sent = 0
        while sent < size and not self.server.site.stopping.is_set():
            piece = block[:min(len(block), size - sent)]
            self.wfile.write(piece)
            sent += len(piece)

    def _chunked(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        step = 500
        for start in range(0, len(body), step):
            piece = body[start:start + step]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: "FixtureSite"


class _Server6(_Server):
    address_family = socket.AF_INET6


class FixtureSite:
    """The fixture web site, served from a daemon thread on 127.0.0.1 (or `host`, e.g. "::1")."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None):
        self.host = host
        self.requests: list[str] = []
        self.clients: list[tuple[str, int]] = []    # who sent each of them: one port a connection
        self.counter = 0
        self.pages: dict[str, list[tuple[int, bytes, str, list[tuple[str, str]]]]] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.article = ARTICLE_HTML.encode("utf-8")
        self.article_gzip = gzip.compress(self.article, compresslevel=6, mtime=0)
        self.pdf = build_pdf()
        self.png = build_png()
        self.browser_edition = 1          # /browser/page's changing paragraph
        self.scheme = "https" if ssl_context else "http"
        self._ssl_context = ssl_context
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fixture site is not started")
        return self._server.server_address[1]

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def allow(self) -> str:
        """The ARCHIVER_ALLOW_PRIVATE entry that lets the fetcher reach this site."""
        return self.netloc

    def set_page(self, path: str, body: bytes | str, status: int = 200,
                 content_type: str = "text/html; charset=utf-8",
                 headers: list[tuple[str, str]] | None = None) -> None:
        """Serve `body` at `path` (exact path, query ignored) until it is set again."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.pages[path] = [(status, data, content_type, list(headers or []))]

    def set_page_sequence(self, path: str, bodies: list[bytes | str],
                          content_type: str = "text/html; charset=utf-8") -> None:
        """Serve bodies[0] to the first request of `path`, bodies[1] to the second, ...,
        and the last one to every request after that."""
        answers = [(200, b.encode("utf-8") if isinstance(b, str) else b, content_type, [])
                   for b in bodies]
        with self.lock:
            self.pages[path] = answers

    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"{self.scheme}://{self.netloc}{path}"

    def start(self) -> "FixtureSite":
        self.stopping.clear()
        server_class = _Server6 if ":" in self.host else _Server
        server = server_class((self.host, self._requested_port), _Handler)
        server.site = self
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"fixture-site-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FixtureSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture(scope="session")
def fixture_site():
    """The fixture web site, one per test session (per xdist worker)."""
    with FixtureSite() as site:
        yield site


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the archiver's fixture web site.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    site = FixtureSite(port=args.port, host=args.host).start()
    print(f"fixture site at {site.url('/')} (ARCHIVER_ALLOW_PRIVATE={site.allow})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()


if __name__ == "__main__":
    main()

"""Browser mode beside plain mode: pages per minute on the same pages, in one run.

Starts a site on 127.0.0.1 with N pages that build their article by script: an HTML shell,
a stylesheet, the article as JSON fetched by the page's script, and an image below the
fold that loads when scrolled to. Then captures all N in plain mode and all N in browser
mode, one after another in this process (the capture pipeline itself, `run_capture`, as a
worker process runs it: fetch, WARC records, text, replay index, catalogue), each mode on a
fresh data folder, after one warm-up capture. Prints pages per minute of each, their
ratio, and how many captures of each mode hold the article's text.

    .venv/bin/python bench/browser.py                  # 20 pages
    .venv/bin/python bench/browser.py --pages 50 --env ARCHIVER_BROWSER_DEADLINE=20

Needs Chromium at /usr/bin/chromium (ARCHIVER_BROWSER_PATH). One page at a time, as one
worker process captures them; the machine should be otherwise idle, as both sides are
CPU-bound.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHELL = """<!doctype html><html lang=en><head><meta charset=utf-8><title>Story {n}</title>
<link rel=stylesheet href=/style.css></head><body><header><nav><a href=/>Home</a></nav></header>
<main><article id=article><p>Loading...</p></article></main><div style="height:3000px"></div>
<img id=lazy alt=figure><script>
fetch("/story/{n}.json").then(r => r.json()).then(d => {{
  const a = document.getElementById("article"); a.innerHTML = "";
  const h = document.createElement("h1"); h.textContent = d.title; a.append(h);
  for (const t of d.paragraphs) {{ const p = document.createElement("p"); p.textContent = t; a.append(p); }}
}});
new IntersectionObserver((seen, o) => {{ for (const e of seen) if (e.isIntersecting) {{
  e.target.src = "/figure/{n}.png"; o.disconnect(); }} }}).observe(document.getElementById("lazy"));
</script></body></html>"""
MARK = "benchmark-marker-sentence"


def story(n: int) -> dict:
    words = ("harbour council lighthouse restoration storm winter engineers lantern stairway "
             "appeal heritage fund ceremony fishermen schoolchildren").split()
    paragraphs = [" ".join(words[(n + i + k) % len(words)] for k in range(60)) + "."
                  for i in range(6)]
    paragraphs[0] = f"{MARK} {n}. " + paragraphs[0]
    return {"title": f"Story number {n}", "paragraphs": paragraphs}


def png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x40\x90\xd0" * 64 for _ in range(64))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Site:
    def __init__(self, pages: int):
        image = png()
        content = {"/style.css": (b"body { font-family: serif; max-width: 40em }", "text/css")}
        for n in range(pages):
            content[f"/story/{n}"] = (SHELL.format(n=n).encode(), "text/html; charset=utf-8")
            content[f"/story/{n}.json"] = (json.dumps(story(n)).encode(), "application/json")
            content[f"/figure/{n}.png"] = (image, "image/png")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def do_GET(self):  # noqa: N802
                body, kind = content.get(self.path.split("?")[0], (b"not found", "text/plain"))
                self.send_response(200 if self.path.split("?")[0] in content else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


def run_mode(mode: str, urls: list[str], work: Path, extra_env: dict[str, str],
             allow: str) -> tuple[float, int]:
    """Seconds to capture every URL in `mode` one after another, and how many hold the text."""
    from archiver.capture import run_capture
    from archiver.config import Settings
    from archiver.db import migrate
    from archiver.models import Capture
    from archiver.submissions import Submitter, submit_captures
    from workers.context import build_context

    data = work / mode
    data.mkdir(parents=True)
    settings = Settings.from_env({"ARCHIVER_DATA_DIR": str(data), "ARCHIVER_ALLOW_PRIVATE": allow,
                                  **extra_env})
    migrate(settings.database_url)
    ctx = build_context(settings)
    try:
        def one(url: str) -> int:
            [capture] = submit_captures(ctx.sessions, [url], None, Submitter("cli", "bench"),
                                        lambda _id: None, mode=mode)
            run_capture(ctx, capture.id, task_id="bench")
            return capture.id

        one(urls[0] + "?warm-up")
        started = time.perf_counter()
        ids = [one(url) for url in urls]
        elapsed = time.perf_counter() - started
        with ctx.sessions() as session:
            rows = [session.get(Capture, i) for i in ids]
            failed = [r for r in rows if r.state != "stored"]
            if failed:
                raise SystemExit(f"{mode}: capture {failed[0].id} {failed[0].state}: {failed[0].error}")
            with_text = sum(1 for r in rows if MARK in (r.text or ""))
        return elapsed, with_text
    finally:
        ctx.writer.close()
        ctx.sessions.kw["bind"].dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an ARCHIVER_* setting for both modes (repeatable)")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    site = Site(args.pages)
    urls = [site.url(f"/story/{n}") for n in range(args.pages)]
    allow = f"127.0.0.1:{site.server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as work:
        results = {mode: run_mode(mode, urls, Path(work), extra, allow) for mode in ("plain", "browser")}
    print(f"{args.pages} script-built pages (shell, stylesheet, JSON by script, image on scroll), "
          "one at a time:")
    for mode, (seconds, with_text) in results.items():
        print(f"  {mode:8s} {args.pages / seconds * 60:8.1f} pages/min  ({seconds:6.2f} s; "
              f"{seconds / args.pages:5.2f} s a page; article text in {with_text}/{args.pages})")
    plain, browser = results["plain"][0], results["browser"][0]
    print(f"  browser mode takes {browser / plain:.0f} times as long as plain mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())

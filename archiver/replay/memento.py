"""Memento (RFC 7089) where pywb 2.10 falls short: a WSGI middleware around pywb's app.

Standard library only: it runs inside pywb's virtualenv (see pywb_app.py) and is tested
in ours. With `enable_memento: true` and `redirect_to_exact: true` pywb already gives a
TimeGate with Accept-Datetime negotiation, `Vary: accept-datetime` and Link headers,
mementos with `Memento-Datetime` and Link original/timegate/timemap, and a link-format
TimeMap. This adds what is missing:

1. pywb's own redirects (TimeGate, and a timestamp that is not exactly a capture's) are
   `307`; RFC 7089 pattern 2.1 and memento clients expect `302 Found`. For GET and HEAD
   only, and never for an archived redirect (that one carries Memento-Datetime).
2. Link rels `first`, `last`, `prev`, `next` (with datetime) on every memento and on the
   TimeGate's redirect, from the URL's TimeMap.
3. `Content-Security-Policy: sandbox allow-scripts` on every memento, so an archived page
   opened top-level runs as it does in the app's sandboxed iframe (an opaque origin); and
   where pywb sends no policy of its own (raw `id_` mementos), one that keeps the archived
   document's requests on the replay origin, as pywb's own policy does for rewritten pages.
4. `/web/timemap/json/<url>`: pywb answers with its CDX lines as NDJSON; this answers with
   one JSON document in the form memento aggregators use (original_uri, timegate_uri,
   timemap_uri, mementos.first/last/list).
5. With the app's address (`app_url`), `Link: <...>; rel="describedby"` on every memento:
   its capture's provenance and its verification, reached through the app's
   `/api/v1/records/describedby?file=F&offset=O` (replay knows the WARC file and offset
   of what it serves, from the index; the catalogue knows whose record that is).
"""
from __future__ import annotations

import io
import json
import re
from urllib.parse import quote
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

NAV_RELS = ("first", "last", "prev", "next")
SANDBOX = "sandbox allow-scripts"
# pywb sends its policy (default-src 'self' ...) only on rewritten pages: an archived document
# served raw could otherwise reach the live web, or post to the app from the browser
CONFINE = "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; form-action 'none'"
_REL_ORDER = [*NAV_RELS, "memento"]


# --- Link headers --------------------------------------------------------------------

_PARAM = re.compile(r'\s*;\s*([^\s=;,]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;,]*)')


def parse_links(value: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """`<uri>; a="b"; c=d, <uri2>...` -> [(uri, [(name, value), ...]), ...] (quotes removed)."""
    links = []
    pos = 0
    while True:
        start = value.find("<", pos)
        if start < 0:
            return links
        end = value.find(">", start)
        if end < 0:
            return links
        uri = value[start + 1:end]
        pos = end + 1
        params = []
        while True:
            match = _PARAM.match(value, pos)
            if not match:
                break
            raw = match.group(2)
            params.append((match.group(1).lower(), raw[1:-1] if raw.startswith('"') else raw))
            pos = match.end()
        links.append((uri, params))


def format_links(links: list[tuple[str, list[tuple[str, str]]]]) -> str:
    return ", ".join(f"<{uri}>" + "".join(f'; {name}="{val}"' for name, val in params)
                     for uri, params in links)


def _rels(params: list[tuple[str, str]]) -> list[str]:
    return [r for name, val in params if name == "rel" for r in val.lower().split()]


def _find(links, rel: str) -> tuple[str, list] | None:
    for uri, params in links:
        if rel in _rels(params):
            return uri, params
    return None


# --- dates ---------------------------------------------------------------------------

def http_date(timestamp: str) -> str:
    moment = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    return format_datetime(moment, usegmt=True)


def iso_date(timestamp: str) -> str:
    return datetime.strptime(timestamp, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_of_http_date(value: str) -> str | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S")


def navigation(timestamps: list[str], current: str) -> dict[str, str]:
    """first/last/prev/next timestamps around `current` in a sorted list without repeats."""
    if not timestamps:
        return {}
    nav = {"first": timestamps[0], "last": timestamps[-1]}
    earlier = [t for t in timestamps if t < current]
    later = [t for t in timestamps if t > current]
    if earlier:
        nav["prev"] = earlier[-1]
    if later:
        nav["next"] = later[0]
    return nav


# --- the middleware ------------------------------------------------------------------

class MementoMiddleware:
    def __init__(self, app, collection: str = "web", app_url: str | None = None):
        self.app = app
        self.prefix = f"/{collection}/"
        self.app_url = app_url.rstrip("/") if app_url else None

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.prefix + "timemap/json/"):
            return self._json_timemap(environ, start_response)
        status, headers, body = _call(self.app, environ)
        if path.startswith(self.prefix) and not path.startswith(self.prefix + "timemap/"):
            status, headers = self._fix(environ, status, headers)
        if path.startswith(self.prefix):
            headers = open_to_sandboxed_pages(headers)
        start_response(status, headers)
        return body

    # 302 for pywb's own redirects; first/last/prev/next on mementos and TimeGate answers
    def _fix(self, environ, status: str, headers: list[tuple[str, str]]):
        get = _getter(headers)
        own_redirect = status.startswith("307") and not get("Memento-Datetime") and get("Location")
        if own_redirect and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
            status = "302 Found"
        if get("Memento-Datetime"):
            # an archived document is sandboxed wherever it is opened, also top-level: its
            # scripts run in an opaque origin, never with the replay origin's (docs/replay.md)
            if not get("Content-Security-Policy"):
                headers = [*headers, ("Content-Security-Policy", CONFINE)]
            headers = [*headers, ("Content-Security-Policy", SANDBOX)]
        link_value = get("Link")
        if not link_value:
            return status, headers
        links = parse_links(link_value)
        original = _find(links, "original")
        if get("Memento-Datetime"):
            current = timestamp_of_http_date(get("Memento-Datetime"))
        elif own_redirect and "accept-datetime" in get("Vary").lower():
            chosen = _find(links, "memento")
            current = timestamp_of_http_date(dict(chosen[1]).get("datetime", "")) if chosen else None
        else:
            return status, headers
        timegate = _find(links, "timegate")
        if not (original and timegate and current) or not timegate[0].endswith(original[0]):
            return status, headers
        base = timegate[0][: len(timegate[0]) - len(original[0])]
        lines = self._cdx_lines(environ, original[0])
        timestamps = [t for t, _url in _mementos_of(lines, original[0])]
        nav = navigation(timestamps, current)
        links = _with_navigation(links, nav, base, original[0])
        if get("Memento-Datetime") and self.app_url:
            links = links + self._described_by(lines, current)
        headers = [(k, v) for k, v in headers if k.lower() != "link"] + [("Link", format_links(links))]
        return status, headers

    def _cdx_lines(self, environ, url: str) -> list[dict]:
        """pywb's index lines for `url` (timestamp, url, filename, offset, ...)."""
        status, _headers, body = _call(self.app, _internal_get(environ, f"{self.prefix}timemap/json/{url}"))
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
        if not status.startswith("200"):
            return []
        lines = []
        for line in data.decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            try:
                cdx = json.loads(line)
            except ValueError:
                continue
            if isinstance(cdx, dict) and "timestamp" in cdx:
                lines.append(cdx)
        return lines

    def _mementos(self, environ, url: str) -> list[tuple[str, str]]:
        """(timestamp, captured URL) of every capture of `url`, sorted, one per timestamp."""
        return _mementos_of(self._cdx_lines(environ, url), url)

    def _described_by(self, lines: list[dict], current: str):
        """The memento's provenance and verification in the app (one record: the first index
        line at this second, the one pywb serves)."""
        for cdx in lines:
            if cdx.get("timestamp") == current and cdx.get("filename") and str(cdx.get("offset", "")).isdigit():
                target = (f"{self.app_url}/api/v1/records/describedby?file={quote(cdx['filename'], safe='')}"
                          f"&offset={cdx['offset']}")
                return [(f"{target}&then=provenance", [("rel", "describedby"), ("type", "application/json"),
                                                       ("title", "provenance")]),
                        (f"{target}&then=verify", [("rel", "describedby"), ("type", "application/json"),
                                                   ("title", "verification")])]
        return []

    def _json_timemap(self, environ, start_response):
        url = environ["PATH_INFO"][len(self.prefix + "timemap/json/"):]
        if environ.get("QUERY_STRING"):
            url += "?" + environ["QUERY_STRING"]
        host = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        base = host + self.prefix
        mementos = self._mementos(environ, url)
        timemap = {
            "original_uri": url,
            "timegate_uri": base + url,
            "timemap_uri": {"link_format": f"{base}timemap/link/{url}",
                            "json_format": f"{base}timemap/json/{url}"},
        }
        if mementos:
            listed = [{"datetime": iso_date(ts), "uri": f"{base}{ts}/{captured}"} for ts, captured in mementos]
            timemap["mementos"] = {"first": listed[0], "last": listed[-1], "list": listed}
            status = "200 OK"
        else:
            timemap["mementos"] = {"list": []}
            status = "404 Not Found"
        body = json.dumps(timemap, indent=1).encode("utf-8") + b"\n"
        links = [(url, [("rel", "original")]), (base + url, [("rel", "timegate")]),
                 (f"{base}timemap/json/{url}", [("rel", "self"), ("type", "application/json")])]
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(body))),
                                ("Link", format_links(links))])
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [body]


def _mementos_of(lines: list[dict], url: str) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for cdx in lines:
        seen.setdefault(cdx["timestamp"], cdx.get("url", url))
    return sorted(seen.items())


def _with_navigation(links, nav: dict[str, str], base: str, original: str):
    """Add first/last/prev/next to the links; a memento named twice gets its rels merged."""
    links = [(uri, list(params)) for uri, params in links]
    for rel in NAV_RELS:
        if rel not in nav:
            continue
        uri = f"{base}{nav[rel]}/{original}"
        for i, (known, params) in enumerate(links):
            if known == uri:
                names = _rels(params)
                if rel not in names:
                    merged = sorted({rel, *names}, key=_rel_rank)
                    rest = [(n, v) for n, v in params if n != "rel"]
                    links[i] = (known, [("rel", " ".join(merged)), *rest])
                break
        else:
            links.append((uri, [("rel", f"{rel} memento"), ("datetime", http_date(nav[rel]))]))
    return links


def _rel_rank(rel: str) -> int:
    return _REL_ORDER.index(rel) if rel in _REL_ORDER else len(_REL_ORDER)


def open_to_sandboxed_pages(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A replayed page runs in an opaque origin (`null`), so CORS would refuse its own
    fetch/XHR of its archived data, and of the redirects that lead there. The archive's
    answers are readable from any origin, never with credentials (docs/replay.md)."""
    kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-allow-")]
    return [*kept, ("Access-Control-Allow-Origin", "*")]


def _getter(headers):
    def get(name: str) -> str:
        for key, value in headers:
            if key.lower() == name.lower():
                return value
        return ""
    return get


def _call(app, environ):
    """Run a WSGI app; (status, headers, body iterable) once it has started its response."""
    started: dict = {}
    written: list[bytes] = []

    def start_response(status, headers, exc_info=None):
        started["status"], started["headers"] = status, list(headers)
        return written.append

    body = app(environ, start_response)
    iterator = iter(body)
    first = []
    if not started:
        for chunk in iterator:          # some apps start on the first chunk
            first.append(chunk)
            if started:
                break

    def chained():
        try:
            yield from written
            yield from first
            yield from iterator
        finally:
            if hasattr(body, "close"):
                body.close()

    return started.get("status", "500 Internal Server Error"), started.get("headers", []), _Body(chained())


class _Body:
    """An iterable with close(), as WSGI servers expect."""

    def __init__(self, generator):
        self._generator = generator

    def __iter__(self):
        return self._generator

    def close(self):
        self._generator.close()


def _internal_get(environ, target: str) -> dict:
    path, _, query = target.partition("?")
    internal = {key: environ[key] for key in (
        "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "HTTP_HOST", "SCRIPT_NAME",
        "wsgi.url_scheme", "wsgi.version", "wsgi.errors", "wsgi.multithread",
        "wsgi.multiprocess", "wsgi.run_once", "REMOTE_ADDR") if key in environ}
    internal.update({"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
                     "REQUEST_URI": target, "wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "0"})
    return internal


__all__ = ["MementoMiddleware", "parse_links", "format_links", "navigation"]

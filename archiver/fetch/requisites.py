"""A page's requisites: what a browser loads to show it (images, stylesheets, scripts, icons).

    found = html_requisites(html_text, page_url)       # Found(requisites, skipped)
    found = css_requisites(css_text, stylesheet_url)

Only finding and resolving happen here; fetching them is `archiver.requisites`. URLs are
resolved against the document's base URL (the first `<base href>`, as browsers do),
kept only for http and https, normalised like a submitted URL (so the address guard and
the fetcher see the same form), stripped of their fragment (never sent to a server), and
each listed once, at its first appearance.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

from archiver.fetch.css import FONT, IMAGE, STYLESHEET, css_references
from archiver.urls import InvalidURL, normalize_submitted_url

SCRIPT, ICON = "script", "icon"
# <link rel> values that name an icon a browser (or a home screen) fetches
ICON_RELS = frozenset({"icon", "apple-touch-icon", "apple-touch-icon-precomposed",
                       "mask-icon", "fluid-icon"})
MAX_SHOWN_URL = 300        # skipped data: URLs and the like are cut in the provenance
# Longer documents are read only this far (as the text extractor does): parsing is linear,
# but a 200 MB page should not hold a worker for minutes to find its images.
MAX_CHARS = 4_000_000

# reasons a found reference is not fetched (also used by archiver.requisites)
NOT_HTTP, INVALID_URL = "not_http", "invalid_url"


@dataclass(frozen=True)
class Requisite:
    url: str                  # absolute, normalised
    kind: str                 # image, stylesheet, script, font, icon
    source: str               # how it was found: "img src", "link rel=stylesheet", "css url()", ...


@dataclass(frozen=True)
class Skip:
    url: str
    reason: str               # a code: not_http, invalid_url, ... (archiver.requisites adds more)
    detail: str = ""
    kind: str | None = None
    source: str | None = None

    def as_dict(self) -> dict:
        return {"url": self.url, "reason": self.reason, "detail": self.detail,
                "kind": self.kind, "source": self.source}


@dataclass
class Found:
    requisites: list[Requisite] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    seen: set[str] = field(default_factory=set, repr=False)    # URLs never to list

    def add(self, raw: str, base: str, kind: str, source: str) -> None:
        raw = raw.strip()
        if not raw:
            return
        resolved = resolve(raw, base)
        if isinstance(resolved, Skip):
            if resolved.url not in self.seen:
                self.seen.add(resolved.url)
                self.skipped.append(Skip(resolved.url, resolved.reason, resolved.detail, kind, source))
            return
        if resolved not in self.seen:
            self.seen.add(resolved)
            self.requisites.append(Requisite(resolved, kind, source))


def resolve(raw: str, base: str) -> str | Skip:
    """The absolute normalised http(s) URL `raw` means on a page at `base`, or why not."""
    # Browsers encode spaces (and drop tabs and newlines) in URLs; the fetcher refuses them.
    cleaned = re.sub(r"[\t\n\r]", "", raw).replace(" ", "%20")
    try:
        absolute = urldefrag(urljoin(base, cleaned)).url
    except ValueError as exc:            # e.g. an unbalanced "[" in the host part
        return Skip(_shown(raw), INVALID_URL, str(exc))
    scheme = urlsplit(absolute).scheme.lower()
    if scheme not in ("http", "https"):
        return Skip(_shown(absolute), NOT_HTTP,
                    f"{scheme or 'no'} scheme: only http and https requisites are fetched")
    try:
        return normalize_submitted_url(absolute)
    except InvalidURL as exc:
        return Skip(_shown(absolute), INVALID_URL, str(exc))


def _shown(url: str) -> str:
    return url if len(url) <= MAX_SHOWN_URL else url[:MAX_SHOWN_URL] + "..."


def srcset_urls(value: str) -> list[str]:
    """The URLs of a `srcset` attribute ("a.png 1x, b.png 2x", "c.jpg 480w").

    A candidate's URL runs to the first whitespace; a comma right after it ends the
    candidate (URLs may contain commas, e.g. CDN parameters); descriptors run to the next
    comma outside parentheses."""
    urls, i, n = [], 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0
            while i < n and (value[i] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                i += 1
        if url:
            urls.append(url)
    return urls


def _base_url(root, page_url: str) -> str:
    base = next((el for el in root.iter("base") if el.get("href") is not None), None)
    if base is None:
        return page_url
    href = base.get("href").strip()
    resolved = urljoin(page_url, href) if href else page_url
    # a base with another scheme (javascript:, data:) cannot be a base for fetching
    return resolved if urlsplit(resolved).scheme in ("http", "https") else page_url


# Elements come only from start tags, "<" then an ASCII letter (libxml2 and HTML5 alike),
# and those the walk in `_parsed_requisites` looks at (img, source, link, script, style;
# HTML5 parsers make <image> an img) all start with i, l or s; any other element counts
# only by a style attribute.
_REQUISITE_TAG_START = re.compile(r"<[ILSils]")


def may_name_requisites(html: str) -> bool:
    """False when the document cannot name a requisite: no start tag that could open one
    of the elements looked at and no "style" in any case. Parsing is most of the cost of
    `html_requisites`, and two plain scans cost a fraction of it."""
    text = html[:MAX_CHARS]
    return _REQUISITE_TAG_START.search(text) is not None or "style" in text.lower()


def html_requisites(html: str, page_url: str) -> Found:
    """The requisites an HTML document names, in document order.

    Parsed with lxml's HTML parser (libxml2, the parser bs4's "lxml" builder drives) and
    walked as an element tree: a tenth of the time of building a BeautifulSoup. Not
    parsed at all when it cannot name one (`may_name_requisites`)."""
    if not may_name_requisites(html):
        return Found(seen={page_url})
    return _parsed_requisites(html, page_url)


def _parsed_requisites(html: str, page_url: str) -> Found:
    found = Found(seen={page_url})        # the page itself is not its own requisite
    parser = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    root = etree.fromstring(html[:MAX_CHARS].encode("utf-8", "surrogatepass"), parser)
    if root is None:
        return found
    base = _base_url(root, page_url)
    for tag in root.iter():
        name = tag.tag
        if not isinstance(name, str):
            continue                      # an entity or other non-element node
        if name == "img":
            found.add(tag.get("src") or "", base, IMAGE, "img src")
            for url in srcset_urls(tag.get("srcset") or ""):
                found.add(url, base, IMAGE, "img srcset")
        elif name == "source" and tag.getparent() is not None and tag.getparent().tag == "picture":
            for url in srcset_urls(tag.get("srcset") or ""):
                found.add(url, base, IMAGE, "picture source srcset")
        elif name == "link":
            rels = {r.lower() for r in _rels(tag)}
            href = tag.get("href") or ""
            if "stylesheet" in rels:
                found.add(href, base, STYLESHEET, "link rel=stylesheet")
            elif rels & ICON_RELS:
                found.add(href, base, ICON, "link rel=" + " ".join(r.lower() for r in _rels(tag)))
        elif name == "script" and tag.get("src"):
            found.add(tag.get("src"), base, SCRIPT, "script src")
        elif name == "style":
            _add_css(found, "".join(tag.itertext()), base, "style element")
        if tag.get("style") and name != "style":
            _add_css(found, tag.get("style"), base, "style attribute")
    return found


def _rels(tag) -> list[str]:
    rel = tag.get("rel") or []
    return rel.split() if isinstance(rel, str) else list(rel)


def css_requisites(css: str, stylesheet_url: str) -> Found:
    """What a stylesheet loads: @import targets (stylesheets), fonts, images."""
    found = Found(seen={stylesheet_url})
    _add_css(found, css[:MAX_CHARS], stylesheet_url, "css")
    return found


def _add_css(found: Found, css: str, base: str, where: str) -> None:
    for ref in css_references(css):
        source = f"{where} @import" if ref.kind == STYLESHEET else f"{where} url()"
        kind = ref.kind if ref.kind in (STYLESHEET, FONT) else IMAGE
        found.add(ref.url, base, kind, source)

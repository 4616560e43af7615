"""Title and metadata of an HTML page: JSON-LD first, then <meta> tags, then the markup.

Reads the parsed tree before boilerplate is removed (JSON-LD lives in <script>).
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import urljoin

from archiver.extract.result import empty_metadata

_ARTICLE_TYPES = re.compile(r"article|posting|report|blog|newsarticle|webpage|review", re.I)
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·»]\s+")


def _squash(text: str) -> str:
    """Each run of whitespace made one space, none at the ends; the same as replacing the
    regex \\s+ with a space and stripping, since all three agree on what whitespace is."""
    return " ".join(text.split())


def _clean(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("name") or value.get("@id") or ""
    return _squash(str(value))


def _walk_ld(node, out: list[dict]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_ld(item, out)
    elif isinstance(node, dict):
        if "@graph" in node:
            _walk_ld(node["@graph"], out)
        if "@type" in node:
            out.append(node)


# The elements read here. read() finds them in one walk of the tree, in document order,
# instead of one search each (".//meta", ".//script[@type]", ...).
_TAGS = ("script", "meta", "time", "h1", "title", "link")


def _elements(root) -> dict[str, list]:
    """root's descendants of each of _TAGS, in document order."""
    found: dict[str, list] = {tag: [] for tag in _TAGS}
    for element in root.iterdescendants(*_TAGS):
        found[element.tag].append(element)
    return found


def json_ld(root) -> dict:
    """The most article-like JSON-LD object on the page, or {}."""
    return _json_ld(root.iterdescendants("script"))


def _json_ld(scripts) -> dict:
    objects: list[dict] = []
    for script in scripts:
        kind = script.get("type")
        if kind is None or "ld+json" not in kind.lower() or not script.text:
            continue
        try:
            _walk_ld(json.loads(script.text), objects)
        except (ValueError, RecursionError):
            continue
    best, best_rank = {}, -1
    for obj in objects:
        kind = obj.get("@type")
        kind = " ".join(kind) if isinstance(kind, list) else str(kind)
        rank = (2 if _ARTICLE_TYPES.search(kind) and "webpage" not in kind.lower() else
                1 if _ARTICLE_TYPES.search(kind) else 0)
        rank += 1 if obj.get("articleBody") else 0
        if rank > best_rank:
            best, best_rank = obj, rank
    return best


def _meta(metas) -> dict[str, str]:
    found: dict[str, str] = {}
    for meta in metas:
        content = meta.get("content")
        if not content:
            continue                    # nothing to keep, whatever its name
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop")
               or meta.get("http-equiv") or "").strip().lower()
        if key and key not in found:
            found[key] = _squash(content)
    return found


def _authors(ld: dict, meta: dict[str, str]) -> list[str]:
    names: list[str] = []
    raw = ld.get("author") or ld.get("creator")
    items = raw if isinstance(raw, list) else [raw] if raw else []
    for item in items:
        name = _clean(item.get("name") if isinstance(item, dict) else item)
        if name and not name.startswith(("http", "@")):
            names.append(name)
    if not names:
        for key in ("author", "article:author", "dc.creator", "parsely-author",
                    "sailthru.author", "byl"):
            value = meta.get(key)
            if value and not value.startswith(("http", "@")):
                value = re.sub(r"^by\s+", "", value, flags=re.I)
                names = [n.strip() for n in re.split(r",\s*|\s+and\s+", value) if n.strip()]
                break
    seen, unique = set(), []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            unique.append(name)
    return unique


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%d %b %Y",
                 "%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S %Z", "%Y%m%d")


def iso_date(value: str | None) -> str | None:
    """An ISO 8601 form of a date string, or None if it cannot be read."""
    if not value:
        return None
    value = value.strip()
    candidate = value.replace("Z", "+00:00") if value.endswith("Z") else value
    try:
        return datetime.fromisoformat(candidate).isoformat()
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).isoformat()
        except ValueError:
            continue
    match = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", value)
    if match:
        try:
            return datetime(*map(int, match.groups())).date().isoformat()
        except ValueError:
            return None
    return None


def _date(ld: dict, meta: dict[str, str], times: list) -> str | None:
    for value in (ld.get("datePublished"), ld.get("dateCreated"),
                  meta.get("article:published_time"), meta.get("og:published_time"),
                  meta.get("datepublished"), meta.get("publishdate"), meta.get("pubdate"),
                  meta.get("date"), meta.get("dc.date"), meta.get("dc.date.issued"),
                  meta.get("sailthru.date"), meta.get("parsely-pub-date"),
                  ld.get("dateModified"), meta.get("article:modified_time")):
        date = iso_date(_clean(value))
        if date:
            return date
    for node in times:
        value = node.get("datetime")
        date = iso_date(value) if value is not None else None
        if date:
            return date
    return None


def _headings(h1s: list) -> list[str]:
    out = []
    for h1 in h1s:
        text = _squash("".join(h1.itertext()))
        if text:
            out.append(text)
    return out


def _title(ld: dict, meta: dict[str, str], titles: list, h1s: list) -> str:
    page_title = ""
    if titles:
        page_title = _squash("".join(titles[0].itertext()))
    declared = [t for t in (meta.get("og:title"), _clean(ld.get("headline")),
                            meta.get("twitter:title"), page_title) if t]
    for heading in _headings(h1s)[:3]:
        if len(heading) > 10 and any(heading.lower() in t.lower() or t.lower() in heading.lower()
                                     for t in declared):
            return heading
    if meta.get("og:title") or ld.get("headline"):
        return meta.get("og:title") or _clean(ld.get("headline"))
    if page_title:
        parts = _TITLE_SEPARATORS.split(page_title)
        return max(parts, key=len) if len(parts) > 1 else page_title
    headings = _headings(h1s)
    return headings[0] if headings else ""


def read(root, url: str | None = None) -> tuple[str, dict, dict]:
    """(title, metadata, json-ld article object) of a parsed page."""
    found = _elements(root)
    ld = _json_ld(found["script"])
    meta = _meta(found["meta"])
    metadata = empty_metadata()
    metadata["authors"] = _authors(ld, meta)
    metadata["date"] = _date(ld, meta, found["time"])
    publisher = ld.get("publisher")
    metadata["site_name"] = (meta.get("og:site_name") or meta.get("application-name")
                             or (_clean(publisher) if publisher else None) or None)
    language = root.get("lang") or root.get("xml:lang") or meta.get("content-language") \
        or meta.get("og:locale") or ld.get("inLanguage")
    metadata["language"] = _clean(language).replace("_", "-") or None
    canonical = None
    for link in found["link"]:
        rel = link.get("rel")
        if rel is not None and "canonical" in rel.lower().split() and link.get("href"):
            canonical = link.get("href").strip()
            break
    canonical = canonical or meta.get("og:url")
    if canonical and url:
        canonical = urljoin(url, canonical)
    metadata["canonical_url"] = canonical or None
    metadata["description"] = (meta.get("description") or meta.get("og:description")
                               or _clean(ld.get("description")) or None)
    return _title(ld, meta, found["title"], found["h1"]), metadata, ld

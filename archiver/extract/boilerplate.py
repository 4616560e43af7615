"""Removing what is never article text: scripts, navigation, banners, share bars, comments.

Rules are generic (HTML semantics, ARIA roles, and words that sites use in class and id
names for page furniture); none is about a particular site.
"""
from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

from archiver.extract.compiled import COMPILED

# Elements whose whole subtree is never article text.
DROP_TAGS = ("script", "style", "noscript", "template", "svg", "math", "canvas", "iframe",
             "object", "embed", "video", "audio", "source", "track", "map", "button",
             "input", "select", "textarea", "option", "optgroup", "label", "nav", "aside",
             "footer", "menu", "dialog", "link", "meta", "head", "fieldset", "legend")

_ROLES = {"navigation", "banner", "contentinfo", "complementary", "dialog", "alertdialog",
          "menu", "menubar", "search", "tablist", "toolbar", "alert", "status", "tooltip"}

# Words in class/id names for furniture. Matched as whole words of the name, where words
# are separated by -, _, space, or a camelCase boundary (the name is lower-cased after
# the boundaries are marked).
_FURNITURE = (
    "nav|navbar|navigation|navlinks|menu|menus|submenu|breadcrumb|breadcrumbs|crumbs|"
    "share|shares|sharing|sharebar|social|socials|sociallinks|"
    "related|relatedlinks|recommended|recommendations|recirc|recirculation|"
    "comment|comments|commenting|disqus|respond|replies|"
    "cookie|cookies|consent|gdpr|cmp|privacy|"
    "newsletter|newsletters|subscribe|subscription|signup|paywall|"
    "promo|promos|promotion|sponsor|sponsored|advert|advertisement|advertising|ad|ads|"
    "adslot|adunit|dfp|gpt|outbrain|taboola|"
    "sidebar|rail|footer|masthead|topbar|toolbar|"
    "byline|bio|author|authors|tags|tag|taglist|keywords|"
    "popup|modal|overlay|skip|pagination|pager|"
    "popular|trending|mostread|moreon|readmore|readnext|"
    "print|login|signin|follow|banner|teaser|teasers|visually|sr|"
    "screenreader|offscreen|off-screen|sr-only|screen-reader|screen-reader-text|"
    "jump|toc|disclaimer|copyright|meta|timestamp|dateline|"
    "dek|subhead|standfirst|strapline|kicker"
)
_FURNITURE_WORD = re.compile(rf"(?<![a-z0-9])(?:{_FURNITURE})(?![a-z0-9])")
# Names that mark the article itself; these are never treated as furniture.
_ARTICLE_WORDS = re.compile(
    r"article|story|entry|post-?body|post-?content|body-?text|main-?content|content-?body|"
    r"articlebody|richtext|rich-text|prose")
# A camelCase boundary, matched as an empty position so that sub() inserts a plain space
# (a replacement template with groups is several times slower).
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


def _words(name: str) -> str:
    lowered = name.lower()
    if lowered == name:
        return name                 # no capital letter, so no camelCase boundary
    return _CAMEL.sub(" ", name).lower()


def is_furniture_name(name: str) -> bool:
    """True if a class/id value names page furniture rather than content."""
    return _is_furniture_words(_words(name))


def _is_furniture_words(words: str) -> bool:
    if not _FURNITURE_WORD.search(words):
        return False
    if _EMBED.search(words):
        return False                      # an embedded post quoted by the article
    return not _ARTICLE_WORDS.search(words) or _STRONG.search(words) is not None


_EMBEDS = ("embed", "twitter-tweet", "instagram-media", "tiktok-embed")
_EMBED = re.compile("|".join(_EMBEDS))


# Furniture words that win even when an article word is present ("article-comments").
_STRONG_WORDS = (
    "comment|comments|share|sharing|social|related|newsletter|cookie|"
    "consent|promo|advert|advertisement|ad|ads|sidebar|footer|outbrain|taboola|"
    "recommended|byline|tags|breadcrumb|breadcrumbs|readmore|popular|trending|"
    "subscribe|paywall")
_STRONG = re.compile(rf"(?<![a-z0-9])(?:{_STRONG_WORDS})(?![a-z0-9])")


def strip_structural(root) -> None:
    """Remove, in place, elements that never hold article text (scripts, nav, forms...)."""
    etree.strip_elements(root, *DROP_TAGS, with_tail=False)


# Furniture words that may name a layout wrapper around the article ("with-sidebar",
# "paywall", "ad-margins"); an element named only with these is kept when it holds a
# large share of the page's prose.
_LAYOUT_WORDS = frozenset((
    "sidebar", "rail", "paywall", "advert", "advertisement", "advertising", "ad", "ads",
    "banner", "visually", "sr", "screenreader", "offscreen", "off-screen", "sr-only",
    "screen-reader", "screen-reader-text", "meta", "tags", "tag", "teaser",
    "teasers", "toc", "skip", "masthead", "topbar", "toolbar", "modal", "overlay", "popup",
    "print", "promo", "promos", "sponsor", "sponsored", "dfp", "gpt", "jump", "bio",
))


LAYOUT, OTHER = "layout", "other"


def _kind(words: str) -> str:
    """LAYOUT if every furniture word in the name may name a layout wrapper, else OTHER."""
    if all(w in _LAYOUT_WORDS for w in _FURNITURE_WORD.findall(words)):
        return LAYOUT
    return OTHER


@lru_cache(maxsize=8192)
def classify_name(name: str) -> str | None:
    """LAYOUT or OTHER for a furniture class/id value; None for content."""
    words = _words(name)
    tokens = _plain_tokens(words)
    if tokens is None:
        return _kind(words) if _is_furniture_words(words) else None
    # The same decision from the name's words, without the regular expressions: a
    # bounded match of a word without "-" is a whole token (see _plain_tokens).
    found = [token for token in tokens if token in _FURNITURE_SET]
    if not found or _is_embed(words):
        return None
    if _STRONG_SET.isdisjoint(tokens) and _ARTICLE_WORDS.search(words):
        return None
    return LAYOUT if all(w in _LAYOUT_WORDS for w in found) else OTHER


_FURNITURE_SET = frozenset(_FURNITURE.split("|"))
_STRONG_SET = frozenset(_STRONG_WORDS.split("|"))
_HYPHENATED = tuple(w for w in _FURNITURE_SET if "-" in w)


def _is_embed(words: str) -> bool:
    """_EMBED.search(words), as plain substring searches (cheaper for a few literals)."""
    for embed in _EMBEDS:
        if embed in words:
            return True
    return False


def _plain_tokens(words: str) -> list[str] | None:
    """The runs of [a-z0-9] in words, or None where the regular expressions must decide.

    Tokens are only taken from ASCII made of [a-z0-9], "-", "_" and whitespace, and
    without a furniture word that holds a "-" ("off-screen"): there the runs are
    exactly what the patterns' [a-z0-9] boundaries delimit."""
    if not words.isascii():
        return None                 # a non-ASCII letter is a boundary to the patterns
    tokens = words.replace("-", " ").replace("_", " ").split()
    if tokens and not "".join(tokens).isalnum():
        return None
    for word in _HYPHENATED:
        if word in words:
            return None
    return tokens


def furniture(root, elements=None) -> dict:
    """Elements that look like page furniture -> LAYOUT or OTHER. elements, if given, is
    list(root.iter(etree.Element)).

    Hidden elements, ARIA landmark roles for navigation, <header>, and furniture-like
    class or id names count. A LAYOUT element is kept when it holds a large share of the
    page's prose (a wrapper such as "content-with-sidebar"); any element is kept when
    it holds most of the prose and the page's h1 (an <article> also tagged "breadcrumb"
    or "comment"); see content.select.
    """
    if COMPILED is not None and isinstance(root, etree._Element):
        return COMPILED.furniture(root, _ROLES, _HIDDEN_STYLE.search, classify_name, OTHER, LAYOUT)
    return furniture_in_python(root, elements)


def furniture_in_python(root, elements=None) -> dict:
    """furniture(), in Python: compiled_walk.pyx does the same over libxml2's nodes."""
    found: dict = {}
    for el in root.iter(etree.Element) if elements is None else elements:
        if el.tag == "header":
            found[el] = OTHER         # a page's or an article's header: title, byline, dek
            continue
        # The names first, in one call; then a value only for a name that is there (each
        # look-up searches the element's attributes in libxml2).
        names = el.keys()
        if not names:
            continue
        if "hidden" in names or ("aria-hidden" in names and el.get("aria-hidden") == "true"):
            found[el] = OTHER
            continue
        role = el.get("role") if "role" in names else None
        if role and role.lower() in _ROLES:
            found[el] = LAYOUT
            continue
        style = el.get("style") if "style" in names else None
        if style and _HIDDEN_STYLE.search(style):
            found[el] = OTHER
            continue
        classes = el.get("class") if "class" in names else None
        ident = el.get("id") if "id" in names else None
        name = (classes or "") + " " + (ident or "")
        if len(name) > 1:
            kind = classify_name(name)
            if kind is not None:
                found[el] = kind
    found.pop(root, None)
    return found

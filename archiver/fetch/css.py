"""What a stylesheet loads: `@import` targets and `url()` references, in source order.

A small scanner, not a CSS parser: it only has to find URLs the way a browser would
request them. Comments are removed first (a commented-out `url()` loads nothing), strings
are honoured (a `)` inside quotes does not end `url(`), and a `url()` inside an
`@font-face` block is a font; any other `url()` is an image (backgrounds, cursors, masks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

STYLESHEET, FONT, IMAGE = "stylesheet", "font", "image"

_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.S)
_STRING = r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
# url( "quoted" ) or url( unquoted ), case-insensitive as in CSS
_URL = re.compile(r"url\(\s*(?:(?P<quoted>" + _STRING + r")|(?P<bare>[^)'\"\s]*))\s*\)", re.I)
# @import "x.css" ... ; or @import url(x.css) ... ;
_IMPORT = re.compile(r"@import\s+(?:(?P<string>" + _STRING + r")|" + _URL.pattern + ")", re.I)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I)
_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}\s?|.)", re.S)


@dataclass(frozen=True)
class CssReference:
    url: str          # as written, unescaped, not yet resolved
    kind: str         # STYLESHEET (an @import), FONT or IMAGE


def _unquote(token: str) -> str:
    if token[:1] in ("'", '"'):
        token = token[1:-1]
    return _ESCAPE.sub(_unescape_one, token).strip()


def _unescape_one(match: re.Match) -> str:
    text = match.group(1)
    hex_part = text.strip()
    if len(hex_part) >= 1 and all(c in "0123456789abcdefABCDEF" for c in hex_part):
        code = int(hex_part, 16)
        return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
    return text.replace("\n", "")     # an escaped newline is a line continuation


def css_references(css: str) -> list[CssReference]:
    """Every URL the stylesheet text refers to, in the order they appear."""
    text = _COMMENT.sub(" ", css)
    found: list[tuple[int, CssReference]] = []
    imports = []
    for match in _IMPORT.finditer(text):
        token = match.group("string") or match.group("quoted") or match.group("bare") or ""
        found.append((match.start(), CssReference(_unquote(token), STYLESHEET)))
        imports.append((match.start(), match.end()))
    fonts = [(m.start(), m.end()) for m in _FONT_FACE.finditer(text)]
    for match in _URL.finditer(text):
        if _inside(match.start(), imports):      # an @import's own url(): already counted
            continue
        token = match.group("quoted") or match.group("bare") or ""
        kind = FONT if _inside(match.start(), fonts) else IMAGE
        found.append((match.start(), CssReference(_unquote(token), kind)))
    return [ref for _, ref in sorted(found, key=lambda item: item[0]) if ref.url]


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)

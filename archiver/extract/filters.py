"""Which text blocks of the article container are kept.

Block-level rules that hold for articles in general: lines of interface text
("Advertisement", "Close", "Share"), dates and bylines, photo credits, prompts to
subscribe or follow, repeated captions, and short furniture at the edges of the article.
"""
from __future__ import annotations

import re
import sys

from archiver.extract.compiled import COMPILED_BLOCKS
from archiver.extract.render import HEADINGS, Block

DEDUPE_MIN = 20          # repeated blocks at least this long are left out after the first
DEDUPE_WINDOW = 12       # how many earlier blocks a block is looked for inside
EDGE_SHORT = 50          # blocks shorter than this before the first / after the last prose
EDGE_TAGS = ("li", "tr", "figcaption")   # kept there all the same, as headings are

_UI_LINE = re.compile(
    r"^(?:advert|advertisement|advertising|ad|ads|anzeige|werbung|publicidad|publicité|"
    r"pubblicità|reclame|реклама|iklan|广告|sponsored(?: content| links)?|"
    r"story continues below(?: advertisement)?|continue reading(?: below| the main story)?|"
    r"read more|read next|more|more:|see more|show more|learn more|load more|"
    r"related|related (?:articles|stories|content|news|links|posts|coverage)|top stories|"
    r"(?:most )?popular(?: now| stories| (?:in|on) .{1,40})?|trending(?: now)?|don'?t miss|"
    r"elsewhere on .{1,40}|always enabled|"
    r"you (?:may|might) (?:also )?like(?: this)?|recommended(?: for you)?|"
    r"more (?:from|in|on|stories from) .{1,40}|partner news|"
    r"share|share (?:this|on|via)(?: article| story| page| post)?.{0,20}|print|email|e-mail|"
    r"comments?|\d+ comments?|leave a (?:comment|reply)|add (?:a )?comment|"
    r"join the (?:conversation|discussion)|tell us what you think|"
    r"like this|like loading|loading|caption|close|open|toggle|menu|search|"
    r"skip (?:to )?(?:ad|advertisement|content|main content)|"
    r"image|photo|video|gallery|image \d+ of \d+|\d+ of \d+|\d+ ?/ ?\d+|"
    r"media playback is unsupported on your device|"
    r"this (?:slideshow|video|content) requires javascript|"
    r"order reprints|reprints?|text size|font size|listen(?: to (?:this )?article)?|"
    r"filed under:?.{0,60}|tags?:.{0,80}|topics?:?.{0,60}|categor(?:y|ies):.{0,60}|"
    r"by|posted by|written by|opinion columnist|"
    r"(?:this (?:website|site) uses|we use) cookies.*|accept(?: all)?(?: cookies)?)"
    r"[\s.:!…|]*$", re.I)

_CREDIT = re.compile(
    r"^\(?(?:photo|photos|photograph|image|images|picture|foto|fotos|credit|credits|"
    r"image credit|photo credit|source|bild|quelle)s?\s*(?:[:©]|by\b|credit\b)|"
    r"^credit\W|^copyright\b|"
    r"^\(?©|"
    r"getty images|shutterstock|ap photo|/ap\)?$|[/(]afp\b|\bafp[/)]|reuters/|"
    r"associated press\)?$|"
    r"\(image: [^)]*\)$", re.I)
# Every branch of _CREDIT holds one of these (lower-case) words, so text whose folded form
# (see _folded) holds none of them cannot match it.
_CREDIT_WORDS = ("photo", "image", "picture", "foto", "credit", "source", "bild", "quelle",
                 "copyright", "\u00a9", "shutterstock", "/ap", "afp", "reuters/",
                 "associated press")

# Prompts that speak to the reader; news prose hardly ever does.
# (?=\w) here and in the patterns below: every alternative starts with a letter (after a
# ^ for some), so a match starts where a word does, and re need not try the alternatives
# at each word's end.
_PROMPT = re.compile(
    r"\b(?=\w)(?:subscribe (?:to our|now|today|here)|"
    r"sign up (?:for|to) (?:our|the) (?:\w+ )?newsletter|"
    r"(?:our|free|daily|weekly) newsletters?|follow us|follow (?:him|her|them) on|"
    r"in your inbox|to your inbox|download (?:our|the) app|join our|click here|"
    r"affiliate (?:links?|commission|partnerships?)|may earn (?:a )?commission|"
    r"successfully subscribed|problem subscribing|javascript protected email|"
    r"issues with commenting|comments (?:are|is) closed|post a comment|comment policy|"
    r"subscribe to (?:the|our) (?:[\w-]+ ){0,4}newsletter|"
    r"if you (?:enjoyed|liked) (?:this|the) (?:article|story|post)|"
    r"^click (?:here|to)|^follow\b.{0,120}\b(?:twitter|facebook|instagram|linkedin|youtube))\b",
    re.I)
# Every branch of _PROMPT holds one of these words, so text without any of them cannot
# match it; looking for them is far cheaper than running _PROMPT.
_PROMPT_WORDS = ("subscrib", "newsletter", "follow", "inbox", "download", "join our", "click",
                 "affiliate", "commission", "javascript", "comment", "if you")
# The characters other than the ASCII letters' own two cases that re.I matches to them.
_IGNORECASE_EXTRAS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})
_EXTRA_CHARS = "".join(map(chr, _IGNORECASE_EXTRAS))


def _folded(text: str, lowered: str) -> str:
    """text as re.I sees it, for substring tests against lower-case words: text.lower()
    (passed in as lowered), with the extras made the ASCII letters they match."""
    if text.isascii():
        return lowered
    for char in _EXTRA_CHARS:           # without them, translate would change nothing
        if char in text:
            return text.translate(_IGNORECASE_EXTRAS).lower()
    return lowered


def _holds_any(folded: str, words: tuple[str, ...]) -> bool:
    for word in words:                  # a loop: any() over a generator costs more here
        if word in folded:
            return True
    return False


def _may_be_prompt(lowered: str, text: str) -> bool:
    return _holds_any(_folded(text, lowered), _PROMPT_WORDS)


# Site furniture that an article may also mention ("the company changed its privacy
# policy"): left out only before the first or after the last prose block.
_SITE_LINE = re.compile(
    r"\b(?=\w)(?:all rights reserved|copyright ©|contact us|terms of (?:use|service)|"
    r"privacy policy|join us)\b", re.I)

# Cookie and consent notices, which can run to a few sentences.
_COOKIES = re.compile(
    r"\b(?:(?:website|site|we|partners) uses? cookies|use of cookies|"
    r"cookie (?:settings|policy|preferences|consent)|"
    r"(?:necessary|essential|analytics|functional|performance|third-party) cookies|"
    r"accept (?:all )?cookies|consent to (?:the use of )?cookies)\b", re.I)
COOKIE_NOTICE_MAX = 900
_ADDRESSES_READER = re.compile(r"\b(?:you|your|we|our|us)\b", re.I)

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
           r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?|fri(?:day)?|"
           r"sat(?:urday)?|sun(?:day)?|"
           # the same in French, German, Spanish, Italian and Portuguese
           r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
           r"décembre|januar|februar|märz|juni|juli|oktober|dezember|enero|febrero|marzo|"
           r"abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|gennaio|"
           r"febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|janeiro|"
           r"fevereiro|março|maio|junho|julho|setembro|outubro|dezembro|"
           r"lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|montag|dienstag|mittwoch|"
           r"donnerstag|freitag|samstag|sonntag|lunes|martes|miércoles|jueves|viernes|"
           r"sábado|domingo|segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira")
# (?=\w): every alternative of these two starts with a letter or a digit (see _PROMPT).
_DATE_WORDS = re.compile(
    rf"\b(?=\w)(?:{_MONTHS}|published|updated|posted|last|modified|on|at|am|pm|a\.m|p\.m|"
    r"de|às|um|le|à|el|il|del|am|publié|veröffentlicht|publicado|pubblicato|"
    r"gmt|utc|est|edt|pst|pdt|cst|cdt|bst|cet|ist|et|pt|ct|original|first|date|time|"
    r"\d+(?:st|nd|rd|th)?)\b", re.I)
_HAS_DIGIT = re.compile(r"\d")
_MONTH_NAME = re.compile(rf"\b(?=\w)(?:{_MONTHS})\b", re.I)
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b|\b\d{1,2}:\d{2}\b")
_WORD = re.compile(r"\w+")


# _MONTHS as plain lower-case text, run over text's folded form (see _folded): where
# _MONTH_NAME matches, this matches too (a cheap test first; the words need not be whole).
_MONTH_IN_FOLDED = re.compile(_MONTHS)


def is_dateline(text: str) -> bool:
    """A short line that is only a date and time, with words like "Published"."""
    return _is_dateline(text, text.lower())


def _is_dateline(text: str, lowered: str) -> bool:
    """is_dateline(text), given text.lower()."""
    if len(text) > 90 or not _HAS_DIGIT.search(text):
        return False
    # A numeric date first: the month names are a long alternation, tried at every letter.
    if not (_NUMERIC_DATE.search(text)
            or (_MONTH_IN_FOLDED.search(_folded(text, lowered)) and _MONTH_NAME.search(text))):
        return False
    rest = _WORD.findall(_DATE_WORDS.sub(" ", text))
    return len(rest) <= 1


_MARKUP = re.compile(r"^<(?:[a-z][a-z0-9]*(?:\s+[a-z-]+\s*=|\s*/?>)|/[a-z][a-z0-9]*>|!--)")


# A breadcrumb trail: "Home › World › Europe", or its links run together ("HomeWorld").
_BREADCRUMB = re.compile(
    r"^(?:(?i:home|startseite|accueil|inicio|início|главная)\s*[»›>/|·•→-]|"
    r"(?:Home|HOME)(?=[A-Z][a-z]))")


def is_noise(text: str) -> bool:
    return _is_noise(text, text.lower())


def _is_noise(text: str, lowered: str) -> bool:
    """is_noise(text), given text.lower()."""
    if text.startswith("<") and _MARKUP.match(text):     # _MARKUP is anchored at a "<"
        return True                          # markup shown as text (a <noscript> pixel)
    if len(text) <= 200 and _BREADCRUMB.match(text):
        return True
    if len(text) <= 100 and (_UI_LINE.match(text) or _is_credit(text, lowered)
                             or _is_dateline(text, lowered)):
        return True
    if (len(text) <= COOKIE_NOTICE_MAX and "cookie" in lowered   # every _COOKIES phrase has it
            and _COOKIES.search(text) and _ADDRESSES_READER.search(text)):
        return True      # a notice speaks to the reader; news about cookies, of others
    return (len(text) <= 320 and _may_be_prompt(lowered, text)
            and _PROMPT.search(text) is not None)


def _is_credit(text: str, lowered: str) -> bool:
    """_CREDIT.search(text), given text.lower(), run only where one of its words is."""
    return _holds_any(_folded(text, lowered), _CREDIT_WORDS) and _CREDIT.search(text) is not None


def _linky(block: Block) -> bool:
    return (block.link_chars != 0 and block.link_density > 0.5       # most have no link
            and (len(block.text) < 300 or block.in_list))


def keep(blocks: list[Block], title: str, is_prose) -> list[str]:
    """The texts worth keeping, in order (see keep_in_python)."""
    if COMPILED_KEEP is not None:
        kept = COMPILED_KEEP(blocks, title, is_prose)
        if kept is not None:        # None: another is_prose than content's
            return kept
    return keep_in_python(blocks, title, is_prose)


def keep_in_python(blocks: list[Block], title: str, is_prose) -> list[str]:
    """keep() itself: compiled_blocks.pyx does the same with typed fields.

    Left out: the headline (it is the title line), interface lines, datelines, credits
    and prompts (is_noise), repeats, lines that are mostly links, and, before the first
    and after the last prose block, short lines that are not headings, list items,
    table rows or captions (bylines, "Topics", "comments")."""
    title_key = " ".join(title.lower().split())
    candidates: list[Block] = []
    seen: set[str] = set()
    recent: list[str] = []                  # a block inside one of these is a repeat
    first_h1 = True
    for block in blocks:
        text = block.text
        key = text.lower()
        if (block.tag == "h1" and first_h1) or _is_title(key, title_key):
            first_h1 = first_h1 and block.tag != "h1"
            continue                        # the headline belongs to the title line
        if _is_noise(text, key):
            continue
        if len(key) >= DEDUPE_MIN and (key in seen or _inside_any(key, recent)):
            continue                        # a repeated caption or pull quote
        seen.add(key)
        recent.append(key)
        if len(recent) > DEDUPE_WINDOW:
            recent.pop(0)
        candidates.append(block)
    flags = [is_prose(b) for b in candidates]
    if True not in flags:
        return [b.text for b in candidates if not _linky(b)]
    first = flags.index(True)
    last = len(flags) - 1 - flags[::-1].index(True)
    head = [b for b in candidates[:first] if not _edge_furniture(b)]
    middle = [b for b in candidates[first:last + 1] if not _linky(b)]
    tail = [b for b in candidates[last + 1:] if not _edge_furniture(b)]
    return [b.text for b in head + middle + tail]


def _inside_any(key: str, earlier: list[str]) -> bool:
    """True if key is a substring of one of the earlier keys."""
    if "\n" in key:
        return any(key in one for one in earlier)
    joined = "\n".join(earlier)         # one search; a key without "\n" cannot span two
    # CPython prepares a search in time linear in the needle: a long key is first looked
    # for by its start, which any occurrence of the whole key begins with.
    if len(key) > PREFIX_PROBE and key[:PREFIX_PROBE] not in joined:
        return False
    return key in joined


PREFIX_PROBE = 100       # long enough for CPython's two-way search on a long haystack


_SITE_SUFFIX = re.compile(r"^\s*[|\-–—:·»]\s*\S.{0,40}$")


def _is_title(key: str, title_key: str) -> bool:
    """The page title, alone or followed by the site's name ("Title | Site")."""
    if not title_key or not key.startswith(title_key):     # a title line starts with it
        return False
    if key == title_key:
        return True
    return _SITE_SUFFIX.match(key[len(title_key):]) is not None


def _edge_furniture(block: Block) -> bool:
    if _linky(block):
        return True
    if len(block.text) <= 320 and _SITE_LINE.search(block.text):
        return True
    if len(block.text) >= EDGE_SHORT or block.tag in HEADINGS or block.tag in EDGE_TAGS:
        return False
    element = block.element
    return element is None or "caption" not in (element.get("class") or "").lower()


if COMPILED_BLOCKS is not None:
    COMPILED_BLOCKS.configure_keep(sys.modules[__name__], HEADINGS)
COMPILED_KEEP = COMPILED_BLOCKS.keep if COMPILED_BLOCKS is not None else None

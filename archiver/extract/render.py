"""A subtree as text blocks: one block per paragraph, heading, list item or caption.

Walks the tree with lxml's iterwalk (no recursion, so deep nesting is safe) and records,
for each block, its text, how much of it is link text, and the tag that opened it.
The article's blocks are usually cut out of the page's (blocks_within) rather than
walked a second time: only the paragraph or other block around a left-out element that
does not cut cleanly is walked again. The cut is taken only where it is provably the same.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from archiver.extract.compiled import COMPILED
from archiver.extract.deadline import Deadline, NoDeadline

BLOCK_TAGS = frozenset((
    "address", "article", "blockquote", "body", "br", "caption", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "figcaption", "figure", "footer", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "nav", "ol", "p",
    "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
))
# Cells: a table row is one block, its cells separated by spaces.
CELLS = frozenset(("td", "th"))
HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


@dataclass(slots=True)
class Block:
    text: str
    link_chars: int
    tag: str              # tag of the innermost block element the text sits in
    in_list: bool = False
    element: object = None   # that element

    @property
    def link_density(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0


@dataclass(slots=True)
class Span:
    """Where a block element sits in a walk's output, and the walk's state as it opened.

    start and end index the blocks rendered inside it; blank_before says no text was
    pending when it opened (so no block was cut there); in_link and lists count the
    links and lists it sits inside."""
    start: int
    blank_before: bool
    in_link: int
    lists: int
    end: int


class Spans:
    """The Span of every block element of a walk, recorded as plain tuples (cheaper)."""

    def __init__(self):
        self.opened: dict = {}      # element -> (start, blank_before, in_link, lists)
        self.closed: dict = {}      # element -> end

    def get(self, element) -> Span | None:
        opened = self.opened.get(element)
        return None if opened is None else Span(*opened, self.closed[element])


def blocks(root, deadline: Deadline | None = None, skip=frozenset()) -> list[Block]:
    """Text blocks of a subtree, whitespace normalised, empty ones left out.

    Subtrees of elements in `skip` are left out (their tails are kept)."""
    return _walk(root, deadline or NoDeadline(), skip, None)


def blocks_and_spans(root, deadline: Deadline | None = None) -> tuple[list[Block], Spans]:
    """blocks(root), and the Span of every block element in it (see blocks_within)."""
    spans = Spans()
    return _walk(root, deadline or NoDeadline(), frozenset(), spans), spans


def blocks_within(all_blocks: list[Block], spans: Spans, container, skip,
                  deadline: Deadline | None = None) -> list[Block] | None:
    """blocks(container, skip=skip), cut out of blocks_and_spans() of an enclosing tree, or
    None where that would not be exactly the same, so the caller walks the container.

    The cut is exact when the container is a block element outside any link or list:
    its blocks then open and close as in a walk of its own, and so do those of every
    such block element inside it. Skipping an outermost skipped element inside it only
    removes the blocks rendered inside it when it is a block element with no text
    pending before it and no link text in its tail. Any other skipped element (an
    inline ad inside a paragraph) changes only the blocks of the nearest block element
    around it that is outside any link or list: that element alone is walked again,
    with the skip, and its blocks replace the ones rendered inside it."""
    span = spans.get(container)
    if span is None or span.in_link or span.lists or container in skip:
        return None
    pieces = []             # (start, end, element walked again or None for a plain cut)
    for element in _outermost_inside(container, skip):
        inner = spans.get(element)
        if _cuts_cleanly(element, inner):
            pieces.append((inner.start, inner.end, None))
            continue
        around = _walkable_block_around(element, container, spans)
        if around is None:
            return None
        pieces.append(around)
    kept, position = [], span.start
    # A piece that renders nothing is left as it is: all its text is blank, and skipping
    # only takes text away. Pieces that render something either nest or do not overlap,
    # so once sorted, one that starts before the end of the last piece taken is in it.
    for start, end, element in sorted((p for p in pieces if p[0] < p[1]),
                                      key=lambda p: (p[0], -p[1])):
        if start < position:
            continue
        kept.extend(all_blocks[position:start])
        if element is not None:
            kept.extend(_walk(element, deadline or NoDeadline(), skip, None))
        position = end
    kept.extend(all_blocks[position:span.end])
    return kept


def _cuts_cleanly(element, span: Span | None) -> bool:
    """True if skipping element only removes the blocks rendered inside it."""
    if span is None or not span.blank_before:
        return False
    return not (span.in_link and element.tail and element.tail.strip())


def _walkable_block_around(element, container, spans: Spans) -> tuple | None:
    """(start, end, node) of the nearest block element strictly between element and
    container that sits outside any link or list; None if there is none."""
    for node in element.iterancestors():
        if node is container:
            return None
        span = spans.get(node)
        if span is not None and not span.in_link and not span.lists:
            return span.start, span.end, node
    return None


def _outermost_inside(container, elements) -> list:
    """The elements strictly inside container that are not inside another of them."""
    above = set(container.iterancestors())
    found = []
    for element in elements:
        for node in element.iterancestors():
            if node is container:
                found.append(element)
                break
            if node in elements or node in above:
                break
    return found


# The ASCII characters other than " " that str.split() splits at.
ASCII_SPACES = ("\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def _no_whitespace_but_space(text: str) -> bool:
    """True if no character of text but " " is whitespace to str.split()."""
    if not text.isascii():              # an O(1) flag; isprintable reads every character
        return text.isprintable()       # " " is the only printable whitespace
    for char in ASCII_SPACES:           # each test is a memchr: far cheaper than isprintable
        if char in text:
            return False
    return True


# re scans for a literal's first character in a tight loop: on text longer than about
# 100 characters it finds (or rules out) "  " in half the time str's search takes.
_DOUBLE_SPACE = re.compile("  ")
LONG_TEXT = 100


def _has_double_space(text: str) -> bool:
    if len(text) > LONG_TEXT:
        return _DOUBLE_SPACE.search(text) is not None
    return "  " in text


def normalise_space(text: str) -> str:
    """" ".join(text.split()), without splitting text that is already so."""
    if (_no_whitespace_but_space(text) and not _has_double_space(text)
            and not text.startswith(" ") and not text.endswith(" ")):
        return text
    return " ".join(text.split())


LISTS = frozenset(("ul", "ol"))


if COMPILED is not None:
    COMPILED.configure(BLOCK_TAGS, LISTS, CELLS)
COMPILED_WALK = COMPILED.walk if COMPILED is not None else None


def _walk(root, deadline: Deadline, skip, spans: Spans | None) -> list[Block]:
    if COMPILED_WALK is not None and isinstance(root, etree._Element):
        return COMPILED_WALK(root, deadline, skip, spans, Block)
    return walk_in_python(root, deadline, skip, spans)


def walk_in_python(root, deadline: Deadline, skip, spans: Spans | None) -> list[Block]:
    """The walk itself: compiled_walk.pyx does the same over libxml2's nodes."""
    out: list[Block] = []
    parts: list[str] = []
    link_chars = 0
    in_link = 0
    stack: list = []             # open block elements
    lists = 0
    count = 0

    # Text waits in parts for the next block boundary. Blank text with nothing pending is
    # not kept: split() drops leading whitespace, so it never reaches a block. With
    # nothing pending link_chars is 0 too, so flush() is only called with text pending.
    def flush() -> None:
        nonlocal parts, link_chars
        text = parts[0] if len(parts) == 1 else "".join(parts)
        # Blank text gives no block (isspace and split agree on what is whitespace).
        text = "" if text.isspace() else normalise_space(text)
        if text:
            top = stack[-1] if stack else None
            out.append(Block(text, min(link_chars, len(text)),
                             top.tag if top is not None else "", lists > 0, top))
        parts = []
        link_chars = 0

    if spans is not None:
        opened, closed = spans.opened, spans.closed
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        if event == "start":
            if skip and el in skip:
                # Past its subtree, the next event is its end, taken here rather than
                # telling each event of the walk whether a subtree is being skipped.
                walker.skip_subtree()
                next(walker)
                tail = el.tail                # only the tail counts
                if tail:
                    parts.append(tail)
                continue
            tag = el.tag
            if tag in BLOCK_TAGS:
                if spans is not None:
                    if parts:
                        emitted = len(out)
                        flush()
                        opened[el] = (len(out), len(out) == emitted, in_link, lists)
                    else:
                        opened[el] = (len(out), True, in_link, lists)
                elif parts:
                    flush()
                stack.append(el)
                if tag in LISTS:
                    lists += 1
            elif tag == "a":
                in_link += 1
            elif tag in CELLS:
                parts.append(" ")
            elif not isinstance(tag, str):    # comments, processing instructions
                continue
            count += 1
            if count & 255 == 0:
                deadline.check()
            text = el.text
            if text and (parts or not text.isspace()):    # blank first: see flush
                parts.append(text)
                if in_link:
                    link_chars += len(text.strip())
        else:
            tag = el.tag
            if tag in BLOCK_TAGS:
                if parts:
                    flush()
                if spans is not None:
                    closed[el] = len(out)
                stack.pop()
                if tag in LISTS:
                    lists -= 1
            elif tag == "a":
                in_link -= 1
            elif tag in CELLS:
                parts.append(" ")
            elif not isinstance(tag, str):    # comments, processing instructions
                if el is not root:
                    tail = el.tail
                    if tail:
                        parts.append(tail)
                continue
            if el is not root:
                tail = el.tail
                if tail and (parts or not tail.isspace()):
                    parts.append(tail)
                    if in_link:
                        link_chars += len(tail.strip())
    if parts:
        flush()
    return out

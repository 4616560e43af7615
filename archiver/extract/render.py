"""A subtree as text blocks: one block per paragraph, heading, list item or caption.

Walks the tree with lxml's iterwalk (no recursion, so deep nesting is safe) and records,
for each block, its text, how much of it is link text, and the tag that opened it.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

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


def blocks(root, deadline: Deadline | None = None, skip=frozenset()) -> list[Block]:
    """Text blocks of a subtree, whitespace normalised, empty ones left out.

    Subtrees of elements in `skip` are left out (their tails are kept)."""
    deadline = deadline or NoDeadline()
    out: list[Block] = []
    parts: list[str] = []
    link_chars = 0
    in_link = 0
    stack: list = []             # open block elements
    lists = 0
    count = 0

    def flush() -> None:
        nonlocal parts, link_chars
        if parts:
            text = " ".join("".join(parts).split())
            if text:
                top = stack[-1] if stack else None
                out.append(Block(text, min(link_chars, len(text)),
                                 top.tag if top is not None else "", lists > 0, top))
        parts = []
        link_chars = 0

    walker = etree.iterwalk(root, events=("start", "end"))
    skipping = None
    for event, el in walker:
        if skipping is not None:
            if el is skipping:                # its end event: only the tail counts
                skipping = None
                if el.tail:
                    parts.append(el.tail)
            continue
        if event == "start" and el in skip:
            walker.skip_subtree()
            skipping = el
            continue
        tag = el.tag
        if not isinstance(tag, str):          # comments, processing instructions
            if event == "end" and el.tail and el is not root:
                parts.append(el.tail)
            continue
        if event == "start":
            count += 1
            if count & 255 == 0:
                deadline.check()
            if tag in BLOCK_TAGS:
                flush()
                stack.append(el)
                if tag in ("ul", "ol"):
                    lists += 1
            elif tag == "a":
                in_link += 1
            elif tag in CELLS:
                parts.append(" ")
            if el.text:
                parts.append(el.text)
                if in_link:
                    link_chars += len(el.text.strip())
        else:
            if tag in BLOCK_TAGS:
                flush()
                stack.pop()
                if tag in ("ul", "ol"):
                    lists -= 1
            elif tag == "a":
                in_link -= 1
            elif tag in CELLS:
                parts.append(" ")
            if el.tail and el is not root:
                parts.append(el.tail)
                if in_link:
                    link_chars += len(el.tail.strip())
    flush()
    return out

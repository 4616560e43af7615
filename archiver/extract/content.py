"""Finding the article in a tree cut into text blocks (see render.py).

1. A block reads like prose when it is long enough and has few links, unless it is a
   teaser: an excerpt in a small card with a linked headline (see _unflag_teasers).
   Every prose block votes for all the elements around it with its length.
2. Furniture (see boilerplate.furniture) is dropped, unless it holds a large share of the
   page's prose and either has a layout name ("content-with-sidebar", "paywall") or
   holds the page's h1 (an opinion piece tagged "comment" is still the article; a
   comment section never holds the article's headline).
3. Among the remaining blocks, the container is the element that maximises
       prose inside it  -  PENALTY * other text inside it
   so it grows to take in the article's paragraphs and stops before it takes in furniture.
"""
from __future__ import annotations

import re

from archiver.extract import boilerplate
from archiver.extract.deadline import Deadline, NoDeadline
from archiver.extract.render import Block

MIN_PROSE = 60           # characters for a block to count as prose
MAX_LINK_DENSITY = 0.3
PENALTY = 0.35           # cost of a character of non-prose text inside the container
LAYOUT_SHARE = 0.3       # share of the page's prose that makes furniture a layout wrapper
KEEP_SHARE = 0.5         # the same for any furniture that also holds the page's h1


# Chinese, Japanese and Korean say in one character what alphabets say in about three.
_DENSE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


# A paragraph is never the article by itself: the container is at least its parent.
NOT_CONTAINERS = frozenset(("p", "pre", "blockquote", "li", "dd", "dt", "td", "th", "tr",
                            "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "caption",
                            "a", "span", "b", "i", "em", "strong", "small", "font", "label"))


def is_prose(block: Block) -> bool:
    if block.link_density > MAX_LINK_DENSITY:
        return False
    length = len(block.text)
    if length >= MIN_PROSE:
        return True
    return length + 2 * len(_DENSE_SCRIPT.findall(block.text)) >= MIN_PROSE


def _chain(node) -> list:
    chain = []
    while node is not None:
        chain.append(node)
        node = node.getparent()
    return chain


TEASER_LEVELS = 4        # how far up a teaser's card may be
TEASER_SPAN = 2.5        # a card holds at most this many times its excerpt's text
TEASER_LINK = 15         # characters of link text (the teaser's headline) in the card


def _unflag_teasers(blocks: list[Block], chains: list, flags: list[bool],
                    headline: set) -> None:
    """Prose that is a teaser for another page is not prose.

    A teaser is an excerpt in a small card that also holds a linked headline (a block
    that is mostly a link): an element a few levels up that holds no other prose and
    little more text than the excerpt and the headline. An article's paragraph sits
    among other paragraphs, so the elements around it hold other prose; and a card
    never holds the page's own headline (h1).
    """
    if not any(_is_linked_headline(block) for block in blocks):
        return                  # no card has a headline, so nothing is a teaser
    total: dict = {}
    prose: dict = {}
    headlines: dict = {}
    for block, chain, good in zip(blocks, chains, flags):
        length = len(block.text)
        linked = _is_linked_headline(block)
        for node in chain[:TEASER_LEVELS + 1]:
            total[node] = total.get(node, 0) + length
            if good:
                prose[node] = prose.get(node, 0) + 1
            if linked:
                headlines[node] = headlines.get(node, 0) + 1
    for i, (block, chain) in enumerate(zip(blocks, chains)):
        if not flags[i]:
            continue
        length = len(block.text)
        for node in chain[1:TEASER_LEVELS + 1]:
            if (prose.get(node, 0) > 1 or total[node] > TEASER_SPAN * length
                    or node in headline):
                break
            if headlines.get(node):
                flags[i] = False
                break


def _is_linked_headline(block: Block) -> bool:
    return len(block.text) >= TEASER_LINK and block.link_density >= 0.7


def _headline_ancestors(blocks: list[Block]) -> set:
    for block in blocks:
        if block.tag == "h1":
            return set(_chain(block.element))
    return set()


def select(blocks: list[Block], furniture: dict, deadline: Deadline | None = None):
    """(container element or None, set of furniture elements to leave out)."""
    deadline = deadline or NoDeadline()
    chains = []
    for i, block in enumerate(blocks):
        if i & 1023 == 0:
            deadline.check()
        chains.append(_chain(block.element))
    flags = [is_prose(block) for block in blocks]
    headline = _headline_ancestors(blocks)
    _unflag_teasers(blocks, chains, flags, headline)
    prose: dict = {}
    page_prose = 0
    for block, chain, good in zip(blocks, chains, flags):
        if good:
            page_prose += len(block.text)
            for node in chain:
                prose[node] = prose.get(node, 0) + len(block.text)
    dropped = set()
    for el, kind in furniture.items():
        share = prose.get(el, 0) / page_prose if page_prose else 0.0
        if kind == boilerplate.LAYOUT and share >= LAYOUT_SHARE:
            continue
        if share >= KEEP_SHARE and el in headline:
            continue            # it holds the headline and most prose: it is the article
        dropped.add(el)
    kept_prose: dict = {}
    kept_total: dict = {}
    deadline.check()
    for block, chain, good in zip(blocks, chains, flags):
        if dropped and not dropped.isdisjoint(chain):
            continue
        length = len(block.text)
        for node in chain:
            kept_total[node] = kept_total.get(node, 0) + length
            if good:
                kept_prose[node] = kept_prose.get(node, 0) + length
    if not kept_prose:
        return None, dropped
    best, best_score = None, float("-inf")
    for el, weight in kept_prose.items():
        if el.tag in NOT_CONTAINERS:
            continue
        score = weight - PENALTY * (kept_total[el] - weight)
        if score > best_score:
            best, best_score = el, score
    return best, dropped

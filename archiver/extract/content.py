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
import sys
from collections import Counter
from itertools import chain as concat

from archiver.extract import boilerplate
from archiver.extract.compiled import COMPILED_BLOCKS
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
    if block.link_chars and block.link_density > MAX_LINK_DENSITY:
        return False
    length = len(block.text)
    if length >= MIN_PROSE:
        return True
    if 3 * length < MIN_PROSE or block.text.isascii():
        return False            # too short even if all dense, or no dense character at all
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
TEASER_LINK_DENSITY = 0.7    # the share of the headline's text that is link text


def _unflag_teasers(blocks: list[Block], chains: list, flags: list[bool],
                    headline: set) -> None:
    """Prose that is a teaser for another page is not prose.

    A teaser is an excerpt in a small card that also holds a linked headline (a block
    that is mostly a link): an element a few levels up that holds no other prose and
    little more text than the excerpt and the headline. An article's paragraph sits
    among other paragraphs, so the elements around it hold other prose; and a card
    never holds the page's own headline (h1). Each block's chain holds its element and
    the TEASER_LEVELS elements above it.
    """
    # Counter counts a flat iterable in C: far cheaper than a dict update per node.
    prose = Counter(concat.from_iterable(
        chain for chain, good in zip(chains, flags) if good))
    headlines = Counter(concat.from_iterable(
        chain for block, chain in zip(blocks, chains)
        if block.link_chars and _is_linked_headline(block)))
    # Only prose that reaches a headline's card before other prose or the h1 can be a
    # teaser: the text held above the others (the dearest sum) need not be taken.
    suspects = [i for i, chain in enumerate(chains)
                if flags[i] and _reaches_a_card(chain, prose, headlines, headline)]
    if not suspects:
        return
    total = _text_held(blocks, chains)
    for i in suspects:
        length = len(blocks[i].text)
        for node in chains[i][1:]:
            if prose[node] > 1 or total[node] > TEASER_SPAN * length or node in headline:
                break
            if headlines[node]:
                flags[i] = False
                break


def _reaches_a_card(chain: tuple, prose: Counter, headlines: Counter, headline: set) -> bool:
    """True if, going up chain, an element holding a linked headline comes before any
    element that holds other prose or the page's h1 (_unflag_teasers' other tests)."""
    for node in chain[1:]:
        if prose[node] > 1 or node in headline:
            return False
        if headlines[node]:
            return True
    return False


def _text_held(blocks: list[Block], chains: list) -> dict:
    """element -> length of the blocks whose chain holds it."""
    total: dict = {}
    for block, chain in zip(blocks, chains):
        length = len(block.text)
        for node in chain:
            total[node] = total.get(node, 0) + length
    return total


def _is_linked_headline(block: Block) -> bool:
    return len(block.text) >= TEASER_LINK and block.link_density >= TEASER_LINK_DENSITY


def _has_linked_headline(blocks: list[Block]) -> bool:
    """True if some card may have a headline: without one, nothing is a teaser."""
    for block in blocks:
        if block.link_chars and _is_linked_headline(block):     # most blocks have no link
            return True
    return False


def _headline_ancestors(blocks: list[Block]) -> set:
    for block in blocks:
        if block.tag == "h1":
            return set(_chain(block.element))
    return set()


def select(blocks: list[Block], furniture: dict, deadline: Deadline | None = None):
    """(container element or None, set of furniture elements to leave out)."""
    deadline = deadline or NoDeadline()
    if COMPILED_SELECT is not None:
        chosen = COMPILED_SELECT(blocks, furniture, deadline)
        if chosen is not None:      # None: blocks the compiled pass does not read
            return chosen
    return select_in_python(blocks, furniture, deadline)


def select_in_python(blocks: list[Block], furniture: dict, deadline: Deadline):
    """select() itself: compiled_blocks.pyx does the same over libxml2's nodes."""
    flags = [is_prose(block) for block in blocks]
    headline = _headline_ancestors(blocks)
    tree = _Tree(blocks)
    deadline.check()
    if _has_linked_headline(blocks):
        _unflag_teasers(blocks, tree.teaser_chains(blocks), flags, headline)
        deadline.check()
    prose, total, page_prose = tree.sums(blocks, flags)
    dropped = set()
    for el, kind in furniture.items():
        share = prose.get(el, 0) / page_prose if page_prose else 0.0
        if kind == boilerplate.LAYOUT and share >= LAYOUT_SHARE:
            continue
        if share >= KEEP_SHARE and el in headline:
            continue            # it holds the headline and most prose: it is the article
        dropped.add(el)
    deadline.check()
    left_out = tree.inside(dropped)
    kept_prose, kept_total = tree.leaving_out(left_out, prose, total)
    best, best_score = None, float("-inf")
    for el in tree.upward_from(blocks, flags, left_out):
        weight = kept_prose[el]
        score = weight - PENALTY * (kept_total[el] - weight)
        if score > best_score and el.tag not in NOT_CONTAINERS:     # the tag only if needed
            best, best_score = el, score
    return best, dropped


def _four_up(node, parent: dict) -> tuple:
    """node and the TEASER_LEVELS (four) elements above it, written out: a loop costs
    more than the whole chain."""
    first = parent[node]
    if first is None:
        return (node,)
    second = parent[first]
    if second is None:
        return node, first
    third = parent[second]
    if third is None:
        return node, first, second
    fourth = parent[third]
    if fourth is None:
        return node, first, second, third
    return node, first, second, third, fourth


class _Tree:
    """The elements that hold blocks and all the elements above them, each with its parent.

    Sums over the blocks inside each element are taken once per element, children
    before parents, rather than once per block for every element above it."""

    def __init__(self, blocks: list[Block]):
        parent: dict = {}
        paths = []
        for block in blocks:
            node = block.element
            if node in parent:
                continue
            path = []
            while node is not None and node not in parent:
                path.append(node)
                parent[node] = node = node.getparent()
            if path:
                paths.append(path)
        self.parent = parent
        # Each path runs up from a block to an element met before (or the root). Every
        # child of an element is below it on its path or on a path found later, so later
        # paths first, each bottom-up, puts every child before its parent.
        self.deepest_first = [node for path in reversed(paths) for node in path]

    def teaser_chains(self, blocks: list[Block]) -> list[tuple]:
        """For each block, its element and the TEASER_LEVELS elements above it, nearest
        first (fewer near the root); built once per element, from the block elements up
        (most elements of the tree are never the element of a block)."""
        parent = self.parent
        made: dict = {None: ()}
        chains = []
        for block in blocks:
            node = block.element
            chain = made.get(node)
            if chain is None:
                chain = made[node] = _four_up(node, parent)
            chains.append(chain)
        return chains

    def sums(self, blocks: list[Block], flags: list[bool]) -> tuple[dict, dict, int]:
        """(element -> length of the prose blocks inside it, element -> length of all
        blocks inside it, length of all prose blocks); elements with nothing inside are
        left out of the dicts."""
        prose: dict = {}
        total: dict = {}
        page_prose = 0
        for block, good in zip(blocks, flags):
            length = len(block.text)
            element = block.element
            if good:
                page_prose += length
                if element is not None:
                    prose[element] = prose.get(element, 0) + length
            if element is not None:
                total[element] = total.get(element, 0) + length
        parent = self.parent
        for node in self.deepest_first:
            up = parent[node]
            held = total.get(node)
            if held is None or up is None:
                continue
            total[up] = total.get(up, 0) + held
            held = prose.get(node)          # an element without text holds no prose
            if held is not None:
                prose[up] = prose.get(up, 0) + held
        return prose, total, page_prose

    def inside(self, elements: set) -> set:
        """Those of the tree's elements that are in `elements` or inside one of them."""
        parent = self.parent
        if not any(element in parent for element in elements):
            return set()                # most furniture holds no block (or was stripped)
        found = set()
        for node in reversed(self.deepest_first):           # parents first
            if node in elements or parent[node] in found:
                found.add(node)
        return found

    def leaving_out(self, left_out: set, prose: dict, total: dict) -> tuple[dict, dict]:
        """sums() as if the elements in left_out (closed under inside()) and the blocks in
        them were not there: what each outermost one holds is taken off those above it."""
        if not left_out:
            return prose, total
        kept_prose, kept_total = dict(prose), dict(total)
        parent = self.parent
        for node in left_out:
            up = parent[node]
            held = total.get(node)
            if held is None or up in left_out:
                continue
            held_prose = prose.get(node)
            while up is not None:
                kept_total[up] -= held
                if held_prose is not None:
                    kept_prose[up] -= held_prose
                up = parent[up]
        for node in left_out:
            kept_total.pop(node, None)
            kept_prose.pop(node, None)
        return kept_prose, kept_total

    def upward_from(self, blocks: list[Block], flags: list[bool], left_out: set) -> list:
        """The elements around prose blocks not left out, in the order a walk up from
        each such block in turn first reaches them (ties between containers go to the
        first)."""
        parent = self.parent
        seen: dict = {}
        for block, good in zip(blocks, flags):
            if not good:
                continue
            node = block.element
            if node is None or node in left_out:
                continue
            while node is not None and node not in seen:
                seen[node] = None
                node = parent[node]
        return list(seen)


if COMPILED_BLOCKS is not None:
    COMPILED_BLOCKS.configure_select(sys.modules[__name__], boilerplate)
COMPILED_SELECT = COMPILED_BLOCKS.select if COMPILED_BLOCKS is not None else None

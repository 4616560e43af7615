"""The compiled passes over the blocks (archiver/extract/compiled_blocks.pyx) give exactly
what content.select and filters.keep give in Python: the same container (the same
element), the same dropped furniture in the same order, the same kept texts, the same
deadline checks; and the whole extraction the same title, text and metadata, on
generated pages, on the benchmark's real pages (where the shared folder is beside the
project) and on mutants of them. The extraction tests check both ways on their own
inputs (tests/compiled_equivalence.py)."""
from __future__ import annotations

import copy
import gzip
import logging
import random

import pytest
from lxml import etree

from archiver.extract import boilerplate, compiled, content, encoding, extract, filters, render
from archiver.extract.deadline import NoDeadline, TimedOut
from archiver.extract.html import parse
from tests.compiled_equivalence import same_choice
from tests.test_compiled_walk import benchmark_pages, random_markup
from tests.test_extract_shortcuts import PAGES, _random_page

LONG = "The council met on Tuesday and agreed to repair the harbour wall before spring. "
KINDS = [boilerplate.OTHER, boilerplate.LAYOUT]


def test_the_compiled_block_passes_are_built_for_the_installed_lxml():
    assert content.COMPILED_SELECT is not None and filters.COMPILED_KEEP is not None, \
        "archiver/extract/compiled_blocks.pyx is not built: make install"


def assert_same_select(blocks, furniture):
    chosen = content.COMPILED_SELECT(blocks, furniture, NoDeadline())
    assert chosen is not None
    assert same_choice(chosen, content.select_in_python(blocks, furniture, NoDeadline()))
    return chosen


def assert_same_keep(blocks, title):
    kept = filters.COMPILED_KEEP(blocks, title, content.is_prose)
    assert kept is not None
    assert kept == filters.keep_in_python(blocks, title, content.is_prose)


def titles(rng: random.Random, blocks) -> list[str]:
    """Titles that hit the title-line test: a block's text, with a site name, or none."""
    picked = [rng.choice(blocks).text for _ in range(2)] if blocks else []
    return ["", "Headline of a card"] + picked + [f"{text} | Site" for text in picked]


def both_passes_on(body, rng: random.Random) -> None:
    """select and keep on a tree, with its furniture and with random furniture added."""
    blocks, spans = render.blocks_and_spans(body)
    furniture = boilerplate.furniture(body)
    container, dropped = assert_same_select(blocks, furniture)
    elements = list(body.iter(etree.Element))
    more = dict(furniture)
    for element in rng.sample(elements, min(len(elements), rng.randint(0, 6))):
        more[element] = rng.choice(KINDS)
    assert_same_select(blocks, more)
    assert_same_select(blocks, {element: boilerplate.OTHER for element in elements})
    if container is not None:
        inside = render.blocks_within(blocks, spans, container, dropped)
        if inside is None:
            inside = render.blocks(container, skip=dropped)
    else:
        inside = blocks
    for title in titles(rng, blocks):
        assert_same_keep(inside, title)
        assert_same_keep(blocks, title)


TEASERS = [   # cards with linked headlines, an h1, pages in CJK, lines the filters drop
    f"<h1>Main story</h1><div><p>{LONG}</p><p>{LONG}</p></div>"
    f"<ul><li><a href=/a>Headline of a card here</a><p>{LONG}</p></li>"
    f"<li><a href=/b>Another headline of a card</a><p>{LONG[:70]}</p></li></ul>",
    f"<div><div><a href=/a>A linked headline here</a><div><p>{LONG}</p></div></div></div>"
    f"<article><h1>T</h1><p>{LONG}</p></article>",
    "<div><p>" + "\u6e2f\u53e3\u306e\u58c1\u3092\u4fee\u7406\u3059\u308b" * 3 + "</p>"
    "<p>\u5e02\u8b70\u4f1a\u306f\u706b\u66dc\u65e5\u306b\u96c6\u307e\u308a</p></div>",
    f"<div><p>Advertisement</p><p>Published 12 March 2024, 10:30 GMT</p><p>{LONG}</p>"
    f"<p>Photo: Getty Images</p><p>Subscribe to our newsletter for more</p><p>{LONG}</p>"
    f"<p>{LONG}</p><p>Home \u203a World \u203a Europe</p><p>We use cookies on our site to "
    f"help you</p><li><a href=/>Most of this is a link</a></li>"
    f"<figcaption>A caption</figcaption><p class=image-caption>Small caption</p>"
    f"<p>Privacy policy</p><p>SUBSCR\u0130BE NOW to our newsletter</p></div>",
    f"<div><p>{LONG}</p><blockquote>A pull quote that is repeated</blockquote><p>{LONG}</p>"
    f"<p>A pull quote that is repeated</p><p>line one<br>line two of the quote</p></div>",
]


@pytest.mark.parametrize("markup", PAGES + TEASERS)
def test_the_pages_of_the_shortcut_tests_choose_and_keep_the_same(markup):
    body = parse(f"<html><body>{markup}</body></html>").find("body")
    boilerplate.strip_structural(body)
    both_passes_on(body, random.Random(markup))


@pytest.mark.parametrize("seed", range(20))
def test_generated_pages_choose_and_keep_the_same(seed):
    rng = random.Random(seed)
    for _ in range(15):
        markup = _random_page(rng) if rng.random() < 0.6 else random_markup(rng)
        root = parse(f"<html><body>{markup}</body></html>")
        if root is None:
            continue
        body = root.find("body")
        boilerplate.strip_structural(body)
        both_passes_on(body, rng)


def test_what_the_compiled_passes_do_not_read_is_left_to_python():
    body = parse(f"<html><body><div><p>{LONG}</p></div></body></html>").find("body")
    blocks = render.blocks(body)
    other = parse(f"<html><body><p>{LONG}</p></body></html>").find("body")
    mixed = blocks + render.blocks(other)
    foreign = blocks + [render.Block(LONG, 0, "p", False, "not an element")]
    assert content.COMPILED_SELECT(tuple(blocks), {}, NoDeadline()) is None
    assert content.COMPILED_SELECT(blocks, {"x": boilerplate.OTHER}, NoDeadline()) is None
    assert content.COMPILED_SELECT(mixed, {}, NoDeadline()) is None
    assert content.COMPILED_SELECT(foreign, {}, NoDeadline()) is None
    assert filters.COMPILED_KEEP(blocks, "", lambda block: True) is None
    assert filters.COMPILED_KEEP(tuple(blocks), "", content.is_prose) is None
    # and select and keep still answer, from the Python passes
    assert content.select(mixed, {}) == content.select_in_python(mixed, {}, NoDeadline())
    assert filters.keep(blocks, "", lambda block: True) == [LONG.strip()]
    # blocks without an element, or no blocks at all
    loose = [render.Block(LONG, 0, "", False, None), render.Block("h", 0, "h1", False, None)]
    assert_same_select(loose, {})
    assert_same_select([], {})
    assert_same_keep(loose, "h")


def test_the_deadline_is_checked_as_often():
    markup = (f"<h1>T</h1><div class=share><a href=/>A linked headline here</a><p>{LONG}</p>"
              f"</div><div><p>{LONG}</p></div>")
    body = parse(f"<html><body>{markup}</body></html>").find("body")
    blocks, furniture = render.blocks(body), boilerplate.furniture(body)

    class Counting:
        def __init__(self, late_at=None):
            self.checks, self.late_at = 0, late_at

        def check(self):
            self.checks += 1
            if self.checks == self.late_at:
                raise TimedOut("late")

    counts = []
    for select in (content.COMPILED_SELECT, content.select_in_python):
        deadline = Counting()
        select(blocks, furniture, deadline)
        counts.append(deadline.checks)
        for late_at in range(1, deadline.checks + 1):
            with pytest.raises(TimedOut):
                select(blocks, furniture, Counting(late_at))
    assert counts[0] == counts[1] == 3


def test_block_passes_built_for_another_lxml_are_not_taken(monkeypatch, caplog):
    from archiver.extract import compiled_blocks
    monkeypatch.setattr(compiled_blocks, "BUILT_FOR", "0.0.1")
    with caplog.at_level(logging.WARNING, logger="archiver.extract.compiled"):
        assert compiled.load("compiled_blocks") is None
    assert "built for lxml 0.0.1" in caplog.text and "make install" in caplog.text


# -- the whole extraction, on the benchmark's pages and on mutants of them ---------------

def extract_both_ways(body: bytes, monkeypatch):
    """extract() with the compiled block passes, and with the Python ones."""
    with_compiled = extract(body, url="http://x/", content_type="text/html; charset=utf-8")
    with monkeypatch.context() as patch:
        patch.setattr(content, "COMPILED_SELECT", None)
        patch.setattr(filters, "COMPILED_KEEP", None)
        in_python = extract(body, url="http://x/", content_type="text/html; charset=utf-8")
    return with_compiled, in_python


def assert_same_extraction(body: bytes, monkeypatch):
    with_compiled, in_python = extract_both_ways(body, monkeypatch)
    assert (with_compiled.title, with_compiled.text, with_compiled.metadata,
            with_compiled.reason) == (in_python.title, in_python.text, in_python.metadata,
                                      in_python.reason)


MUTATION_TEXTS = ["Advertisement", "Published 12 March 2024, 10:30", "Photo: Getty Images",
                  "Subscribe to our newsletter", "Home \u203a News", "Read more", LONG,
                  LONG * 3, "\u6e2f\u53e3\u306e\u58c1\u3092\u4fee\u7406", "Share this article"]
MUTATION_CLASSES = ["teaser card", "related", "content-with-sidebar", "comments", "story",
                    "image-caption", "share", "paywall"]


def mutant(root, rng: random.Random) -> bytes:
    """The page with a few random changes the block passes tell apart."""
    root = copy.deepcopy(root)
    elements = [el for el in root.iter(etree.Element) if el.tag not in ("html", "head", "body")]
    for _ in range(rng.randint(1, 6)):
        if not elements:
            break
        element = rng.choice(elements)
        roll = rng.random()
        if roll < 0.15 and element.getparent() is not None:
            element.getparent().remove(element)          # its tail goes with it
            elements.remove(element)
        elif roll < 0.3:
            element.set("class", rng.choice(MUTATION_CLASSES))
        elif roll < 0.45:
            link = etree.SubElement(element, "a", href="/x")
            link.text = rng.choice(MUTATION_TEXTS)
        elif roll < 0.6:
            element.addnext(copy.deepcopy(element))       # a repeat
        elif roll < 0.8:
            tag = rng.choice(["p", "h1", "li", "figcaption", "div", "span"])
            new = etree.Element(tag)
            new.text = rng.choice(MUTATION_TEXTS)
            element.insert(rng.randint(0, len(element)), new)
        else:
            wrapper = etree.Element(rng.choice(["div", "a", "ul", "section"]))
            element.addprevious(wrapper)
            wrapper.append(element)
    return etree.tostring(root, encoding="utf-8", method="html")


@pytest.mark.skipif(not benchmark_pages(), reason="the shared benchmark folder is not beside the project")
def test_the_benchmark_pages_and_their_mutants_extract_the_same(monkeypatch):
    rng = random.Random(11)
    for page in benchmark_pages():
        raw = gzip.decompress(page.read_bytes())
        assert_same_extraction(raw, monkeypatch)
        text, used = encoding.decode(raw, "text/html")
        root = parse(text, encoding.exact_utf8(raw, text, used))
        if root is None:
            continue
        for _ in range(2):
            assert_same_extraction(mutant(root, rng), monkeypatch)
        body = root.find("body") if root.find("body") is not None else root
        boilerplate.strip_structural(body)
        both_passes_on(body, rng)

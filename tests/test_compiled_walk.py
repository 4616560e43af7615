"""The compiled passes (archiver/extract/compiled_walk.pyx) give exactly what the passes in
Python give: the walk the same blocks, spans, errors and deadline checks, the furniture
scan the same elements and kinds in the same order, on generated trees of every shape
they tell apart, on the extraction tests' pages and, where the shared benchmark folder
is beside the project, on its real pages."""
from __future__ import annotations

import gzip
import logging
import random
from pathlib import Path

import pytest
from lxml import etree

from archiver.extract import boilerplate, compiled, content, encoding, render
from archiver.extract.deadline import NoDeadline, TimedOut
from archiver.extract.html import parse
from tests.test_extract_speed_equivalence import PAGES

BENCHMARK = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "extraction" / "html"

BLOCKS = ["p", "div", "li", "ul", "ol", "h1", "h2", "tr", "table", "section", "br", "td",
          "th", "figure", "figcaption", "blockquote", "pre"]
INLINE = ["a", "span", "b", "em", "a", "i", "img", "font"]
TEXTS = ["", " ", "  ", "word", " two words ", "tab\there", "new\nline", "\u00a0nbsp\u00a0",
         "em\u2003space", "a  double", "\u3000ideographic", "x" * 120, " ends ", "\t\n",
         "caf\u00e9 \u00fcber", "&amp; entity", "\U0001f600 emoji"]


# the extractor's parser drops comments and processing instructions; this one keeps them
KEEPING_COMMENTS = etree.HTMLParser()


def parse_keeping_comments(markup: str):
    return etree.fromstring(markup, KEEPING_COMMENTS)


def outcome(walk, with_spans):
    """(blocks, spans) of one walk, or the error it raised."""
    spans = render.Spans() if with_spans else None
    try:
        blocks = walk(spans)
    except Exception as exc:     # noqa: BLE001 - the same error is part of the same result
        return type(exc), str(exc)
    return blocks, spans and (spans.opened, spans.closed)


def walk_both(root, skip=frozenset(), with_spans=True):
    return (outcome(lambda spans: render.walk_in_python(root, NoDeadline(), skip, spans), with_spans),
            outcome(lambda spans: render.COMPILED_WALK(root, NoDeadline(), skip, spans, render.Block),
                    with_spans))


def assert_same(root, skip=frozenset(), with_spans=True):
    in_python, from_compiled = walk_both(root, skip, with_spans)
    assert from_compiled == in_python


ATTRIBUTES = ["", "", "", " class=ad", " hidden", " aria-hidden=true", " aria-hidden=false",
              " role=navigation", " role=Navigation", " role=main", " role", " style='display: none'",
              " style='color: red'", " class='site-nav'", " class=articleBody", " class='article-comments'",
              " id=sidebar", " class='' id=''", " class=shareBar id=x", " class='caf\u00e9-menu'",
              " class='a&amp;b nav'", " id='content-with-sidebar'", " class=story id=related",
              " data-x=1", " class=sr-only", " class='off-screen'", " class=twitter-tweet"]


def assert_same_furniture(root):
    from_compiled = boilerplate.furniture(root)
    assert boilerplate.COMPILED is not None
    assert list(from_compiled.items()) == list(boilerplate.furniture_in_python(root).items())


def random_markup(rng: random.Random, depth: int = 0) -> str:
    out = []
    for _ in range(rng.randint(0, 5 if depth < 5 else 1)):
        roll = rng.random()
        if roll < 0.35:
            out.append(rng.choice(TEXTS))
        elif roll < 0.42:
            out.append(f"<!--{rng.choice(TEXTS)}-->")
        elif roll < 0.45:
            out.append("<?pi x?>")
        else:
            tag = rng.choice(BLOCKS if rng.random() < 0.5 else INLINE + ["header"])
            attrs = "".join(rng.choice(ATTRIBUTES) for _ in range(rng.randint(0, 2)))
            out.append(f"<{tag}{attrs}>{random_markup(rng, depth + 1)}</{tag}>{rng.choice(TEXTS)}")
    return "".join(out)


def test_the_compiled_walk_is_built_for_the_installed_lxml():
    # make install builds it; without it text extraction is several times slower
    assert render.COMPILED_WALK is not None, "archiver/extract/compiled_walk.pyx is not built: make install"


@pytest.mark.parametrize("seed", range(40))
def test_generated_trees_walk_the_same(seed):
    rng = random.Random(seed)
    for _ in range(25):
        markup = f"<html><body>{random_markup(rng)}</body></html>"
        root = parse(markup) if rng.random() < 0.5 else parse_keeping_comments(markup)
        if root is None:
            continue
        elements = list(root.iter())
        assert_same(root)
        for _ in range(4):
            start = rng.choice(elements)
            skip = set(rng.sample(elements, rng.randint(0, min(6, len(elements)))))
            assert_same(start, skip, with_spans=rng.random() < 0.5)
        marked = set(root.xpath("//*[@class='ad']"))
        assert_same(root, marked)
        assert_same_furniture(root)
        assert_same_furniture(rng.choice(elements))


@pytest.mark.parametrize("markup", PAGES)
def test_the_pages_of_the_cut_tests_walk_the_same(markup):
    root = parse(f"<html><body>{markup}</body></html>")
    for element in [root] + list(root.iter()):
        assert_same(element, set(root.xpath("//*[@class='ad']")))


def test_a_skipped_root_and_a_comment_root_walk_the_same():
    root = parse_keeping_comments(
        "<html><body><div id=c>in<p>para</p></div>tail text<!--c-->after <?pi x?> pi tail"
        "<a>link<!--in a link-->tail in link</a></body></html>")
    container = root.find(".//div")
    assert_same(container, {container})
    comments = [node for node in root.iter() if not isinstance(node.tag, str)]
    assert len(comments) == 3
    for node in comments:
        assert walk_both(node)[0][0] is ValueError      # iterwalk refuses a comment
        assert_same(node)
    assert_same(root, {comments[0]})
    assert_same(root)
    for node in comments:
        assert_same_furniture(node)


def test_text_nodes_left_side_by_side_walk_the_same():
    # strip_structural removes an element but keeps its tail: two text nodes in a row
    root = parse("<html><body><p>one <script>x</script> two<style>y</style>  three</p>"
                 "<div>a<noscript>b</noscript>  </div></body></html>")
    boilerplate.strip_structural(root.find("body"))
    assert_same(root)


def test_the_deadline_is_checked_as_often():
    root = parse("<html><body>" + "<p><span>x</span></p>" * 2000 + "</body></html>")

    class Counting:
        def __init__(self):
            self.checks = 0

        def check(self):
            self.checks += 1
            if self.checks == 5:
                raise TimedOut("late")

    for walk in (lambda d: render.walk_in_python(root, d, frozenset(), None),
                 lambda d: render.COMPILED_WALK(root, d, frozenset(), None, render.Block)):
        deadline = Counting()
        with pytest.raises(TimedOut):
            walk(deadline)
        assert deadline.checks == 5


def test_a_walk_built_for_another_lxml_is_not_taken(monkeypatch, caplog):
    from archiver.extract import compiled_walk
    monkeypatch.setattr(compiled_walk, "BUILT_FOR", "0.0.1")
    with caplog.at_level(logging.WARNING, logger="archiver.extract.compiled"):
        assert compiled.load() is None
    assert "built for lxml 0.0.1" in caplog.text and "make install" in caplog.text


def benchmark_pages() -> list[Path]:
    return sorted(BENCHMARK.glob("*.html.gz")) if BENCHMARK.is_dir() else []


@pytest.mark.skipif(not benchmark_pages(), reason="the shared benchmark folder is not beside the project")
def test_the_benchmark_pages_walk_the_same_at_every_step():
    rng = random.Random(7)
    for page in benchmark_pages():
        raw = gzip.decompress(page.read_bytes())
        text, used = encoding.decode(raw, "text/html")
        root = parse(text, encoding.exact_utf8(raw, text, used))
        if root is None:
            continue
        assert_same(root)
        assert_same_furniture(root)
        body = root.find("body") if root.find("body") is not None else root
        boilerplate.strip_structural(body)
        assert_same(body)
        assert_same_furniture(body)
        blocks, spans = render.blocks_and_spans(body)
        container, dropped = content.select(blocks, boilerplate.furniture(body), NoDeadline())
        if container is not None:
            assert_same(container, dropped, with_spans=False)
        elements = list(body.iter())
        assert_same(rng.choice(elements), set(rng.sample(elements, min(10, len(elements)))))

"""The extractor's shortcuts give exactly what the long way gives."""
from __future__ import annotations

import re

import pytest

from archiver.extract import boilerplate, content, filters, render
from archiver.extract.html import parse


def _top_level_branches(pattern: str) -> list[str]:
    """The alternatives of the outermost group of a regular expression's source."""
    inner = pattern[pattern.index("(?:") + 3:pattern.rindex(")")]
    branches, depth, current, escaped = [], 0, "", False
    for char in inner:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(current)
            current = ""
            continue
        current += char
    return branches + [current]


def test_every_prompt_branch_holds_a_prompt_word():
    branches = _top_level_branches(filters._PROMPT.pattern)
    assert len(branches) > 15
    for branch in branches:
        assert any(word in branch for word in filters._PROMPT_WORDS), branch


def test_ignorecase_extras_are_all_characters_re_matches_to_ascii_letters():
    every = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000)
    extras = {}
    for letter in "abcdefghijklmnopqrstuvwxyz ":
        for char in re.findall(re.escape(letter), every, re.I):
            if char.lower() != letter:
                extras[ord(char)] = letter
    assert extras == filters._IGNORECASE_EXTRAS


@pytest.mark.parametrize("text", [
    "Subscribe now to read on", "SUBSCRİBE NOW", "ſubſcribe today", "Follow us",
    "Sign up for our daily newsletter", "Comments are closed", "If you enjoyed this article",
    "The subscriber base grew", "Ein Bericht über die Stadt", "Click here",
])
def test_prompt_prefilter_never_hides_a_match(text):
    if filters._PROMPT.search(text):
        assert filters._may_be_prompt(text.lower(), text)


@pytest.mark.parametrize("key, earlier", [
    ("a repeated caption here", ["x", "before a repeated caption here after"]),
    ("a repeated caption here", ["a repeated", "caption here"]),
    ("line one\nline two is long", ["line one", "line two is long"]),
    ("line one\nline two is long", ["so line one\nline two is long"]),
    ("nothing like it at all", []),
])
def test_inside_any_is_substring_of_one(key, earlier):
    assert filters._inside_any(key, earlier) == any(key in one for one in earlier)


LONG = "The council met on Tuesday and agreed to repair the harbour wall before spring. "
PAGES = [
    f"<article><h1>Title</h1><p class=byline>By A</p><p>{LONG}</p><p>{LONG} again</p></article>",
    f"<main><div class=story><p>{LONG}</p><div class=share>Share <a href=/>x</a></div>"
    f"tail after share<p>{LONG}</p></div></main>",
    f"<div class=story><p>{LONG}</p>text before <div class=promo>Buy</div> tail<p>{LONG}</p></div>",
    f"<div class=story><p>{LONG}<span class=sr-only>Advertisement</span> more</p></div>",
    f"<ul><li><div class=story><p>{LONG}</p><p>{LONG}</p></div></li></ul>",
    f"<a href=/><div class=story><p>{LONG}</p><div class=tags>x</div> y</div></a>",
    f"<div class=story><p>{LONG}</p><section class=comments><p>{LONG}</p>"
    f"<div class=comment><p>nested</p></div></section><p>{LONG}</p></div>",
    f"<table><tr><td><div class=story><p>{LONG}</p></div></td></tr></table>",
]


@pytest.mark.parametrize("markup", PAGES)
def test_blocks_within_equals_a_walk_of_the_container(markup):
    body = parse(f"<html><body>{markup}</body></html>").find("body")
    boilerplate.strip_structural(body)
    furniture = boilerplate.furniture(body)
    page, spans = render.blocks_and_spans(body)
    assert page == render.blocks(body)
    container, dropped = content.select(page, furniture)
    for element in [container, body] + list(body.iter("div", "p", "li", "section")):
        cut = render.blocks_within(page, spans, element, dropped)
        if cut is not None:
            assert cut == render.blocks(element, None, dropped)


def test_all_whitespace_but_the_space_is_unprintable():
    # normalise_space relies on it: printable text holds no whitespace but " "
    for code in range(0x110000):
        char = chr(code)
        if char.isspace() and char != " ":
            assert not char.isprintable(), hex(code)


@pytest.mark.parametrize("text", [
    "", " ", "a", "a b", " a b", "a b ", "a  b", "a\nb", "a\u00a0b", "a\u3000b", "a\u2028b",
    "\ta", "one two three", "x\u200bb", "a\x1fb", "naïve café",
])
def test_normalise_space_is_split_and_join(text):
    assert render.normalise_space(text) == " ".join(text.split())


@pytest.mark.parametrize("name", [
    "postBodyText mainContent", "aBC", "a1B2c", "ABCdef", "xYzW", "socialShareBar",
    "Éa", "aÉ", "", "nav", "relatedLinks2Go",
])
def test_camel_case_words_split_as_a_template_would(name):
    assert boilerplate._words(name) == re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).lower()


def test_ascii_spaces_are_all_ascii_characters_split_splits_at_but_the_space():
    # normalise_space tests ASCII text for these instead of calling isprintable
    splits_at = {chr(code) for code in range(128) if chr(code).isspace()}
    assert splits_at == set(render.ASCII_SPACES) | {" "}
    assert len(render.ASCII_SPACES) == len(set(render.ASCII_SPACES))


@pytest.mark.parametrize("code", range(128))
def test_normalise_space_of_each_ascii_character(code):
    for text in (f"a{chr(code)}b", chr(code), f"{chr(code)}a b", f"a b{chr(code)}"):
        assert render.normalise_space(text) == " ".join(text.split())


def test_blank_text_is_what_normalises_to_nothing():
    # flush skips normalise_space for text that isspace(): split() gives no words exactly then
    for code in range(0x110000):
        char = chr(code)
        assert char.isspace() == (char.split() == []), hex(code)


def test_markup_pattern_only_matches_text_that_starts_with_a_bracket():
    # _is_noise runs _MARKUP only on text starting with "<"
    assert filters._MARKUP.pattern.startswith("^<")
    assert not filters._MARKUP.flags & re.VERBOSE
    for text in ("<p>", "<br/>", "</div>", "<!-- x", "<img src=x>"):
        assert filters._MARKUP.match(text)


@pytest.mark.parametrize("key, title", [
    ("the title", "the title"), ("the title | site", "the title"), ("a title | site", "the title"),
    ("the title and more words than a site name could ever have in it", "the title"),
    ("anything", ""), ("", ""), ("the", "the title"),
])
def test_title_check_is_equal_or_prefix_with_site_suffix(key, title):
    suffix = key[len(title):]
    expected = bool(title) and (key == title or key.startswith(title)
                                and filters._SITE_SUFFIX.match(suffix) is not None)
    assert filters._is_title(key, title) == expected


BLANKS = [   # markup with blank text before other text, and the blocks it must give
    ("<div>\n  <p>one</p>\n  <p>two</p>\n</div>", [("one", 0, "p"), ("two", 0, "p")]),
    ("<div> <a href=/>  </a> <p>x</p></div>", [("x", 0, "p")]),
    ("<ul>\n<li> <a href=/>link text here</a> tail</li>\n</ul>",
     [("link text here tail", 14, "li")]),
    ("<p>\n</p><p> \u00a0 </p><p>a</p>\n\n", [("a", 0, "p")]),
    ("<div><span> </span>word<span>\n</span> next</div>", [("word next", 0, "div")]),
    ("<table>\n<tr>\n<td> a </td>\n<td>\n</td><td>b</td></tr></table>", [("a b", 0, "tr")]),
    ("<div>\n<a href=/>\n<p>in a link</p>\n</a>\n after</div>",
     [("in a link", 9, "p"), ("after", 0, "div")]),
]


@pytest.mark.parametrize("markup, expected", BLANKS)
def test_blank_text_before_any_other_changes_no_block(markup, expected):
    body = parse(f"<html><body>{markup}</body></html>").find("body")
    page, spans = render.blocks_and_spans(body)
    assert [(b.text, b.link_chars, b.tag) for b in page] == expected
    assert page == render.blocks(body)
    for element in body.iter():     # blank text cuts no block: every span opens blank
        span = spans.get(element)
        assert span is None or span.blank_before

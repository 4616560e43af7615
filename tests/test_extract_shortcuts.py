"""The extractor's shortcuts give exactly what the long way gives."""
from __future__ import annotations

import re

import pytest

from archiver.extract import boilerplate, content, filters, metadata, render
from archiver.extract.html import parse
from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)


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


# --- content.select: sums per element, not per block ------------------------------------

def _reference_select(blocks, furniture):
    """content.select the long way: every block adds itself to every element above it."""
    chains = [content._chain(block.element) for block in blocks]
    flags = [content.is_prose(block) for block in blocks]
    headline = content._headline_ancestors(blocks)
    if any(content._is_linked_headline(block) for block in blocks):
        _unflag_by_sums(blocks, chains, flags, headline, content.TEASER_LEVELS)
    prose, page_prose = {}, 0
    for block, chain, good in zip(blocks, chains, flags):
        if good:
            page_prose += len(block.text)
            for node in chain:
                prose[node] = prose.get(node, 0) + len(block.text)
    dropped = set()
    for el, kind in furniture.items():
        share = prose.get(el, 0) / page_prose if page_prose else 0.0
        if not (kind == boilerplate.LAYOUT and share >= content.LAYOUT_SHARE
                or share >= content.KEEP_SHARE and el in headline):
            dropped.add(el)
    kept_prose, kept_total = {}, {}
    for block, chain, good in zip(blocks, chains, flags):
        if dropped.isdisjoint(chain):
            for node in chain:
                kept_total[node] = kept_total.get(node, 0) + len(block.text)
                if good:
                    kept_prose[node] = kept_prose.get(node, 0) + len(block.text)
    best, best_score = None, float("-inf")
    for el, weight in kept_prose.items():
        score = weight - content.PENALTY * (kept_total[el] - weight)
        if el.tag not in content.NOT_CONTAINERS and score > best_score:
            best, best_score = el, score
    return best, dropped


def _random_page(rng) -> str:
    tags = ["div", "section", "article", "p", "ul", "li", "a", "span", "aside", "h1", "h2",
            "figure", "figcaption", "table", "tr", "td"]
    names = ["story", "share", "related", "comments", "content-with-sidebar", "byline",
             "teaser", "card", "paywall", "x", "article-comments", "sr-only"]

    def node(depth):
        if depth > 5 or rng.random() < 0.3:
            return rng.choice([LONG, "Read more", "A short line", LONG * 2, "Headline of a card"])
        tag = rng.choice(tags)
        attrs = f' class="{rng.choice(names)}"' if rng.random() < 0.4 else ""
        attrs += ' href="/x"' if tag == "a" else ""
        kids = "".join(node(depth + 1) for _ in range(rng.randint(1, 4)))
        return f"<{tag}{attrs}>{kids}</{tag}>"

    return "".join(node(0) for _ in range(rng.randint(1, 5)))


def test_select_equals_the_per_block_sums():
    import random
    rng = random.Random(7)
    for markup in PAGES + [_random_page(rng) for _ in range(300)]:
        body = parse(f"<html><body>{markup}</body></html>").find("body")
        boilerplate.strip_structural(body)
        furniture = boilerplate.furniture(body)
        page = render.blocks(body)
        assert content.select(page, furniture) == _reference_select(page, furniture), markup


# --- boilerplate: names read as tokens where the patterns would see the same ----------

def _classify_with_patterns(name: str):
    words = boilerplate._CAMEL.sub(" ", name).lower()
    return boilerplate._kind(words) if boilerplate._is_furniture_words(words) else None


NAMES = ["nav", "site-nav", "navbar", "nav_bar", "mainNav", "socialShareBar", "article-comments",
         "article comments", "story-sidebar", "content-with-sidebar", "sr-only", "x-sr-only",
         "off-screen", "offscreen", "screen-reader-text", "screen-reader", "xoff-screen",
         "twitter-tweet related", "tiktok-embed", "post-body share", "postbody", "navé",
         "ÉditoNav", "nav:item", "nav.item", "nav\titem", "nav\x1fitem", "ad2", "ad 2", "ads_",
         "rich-text tags", "main-content ad", "  ", " nav ", "NAV", "Related-Links", "cmp",
         "ſhare", "İnav", "comment\u00a0box", "tag-list", "teasers", "prose", "storyComments"]


def test_strong_words_are_single_tokens():
    # classify_name tests them against a name's tokens
    assert all("-" not in word for word in boilerplate._STRONG_SET)
    assert boilerplate._HYPHENATED and all("-" in word for word in boilerplate._HYPHENATED)


def test_name_tokens_agree_with_the_patterns():
    import random
    rng = random.Random(3)
    words = boilerplate._FURNITURE.split("|") + boilerplate._STRONG_WORDS.split("|") + [
        "article", "story", "entry", "post", "body", "content", "main", "text", "rich",
        "embed", "twitter", "tweet", "x", "9", "Only", "Screen", "Nav", "É"]
    seps = [" ", "-", "_", "", "--", ":", "é", "\t", "0"]
    names = list(NAMES)
    for _ in range(20000):
        names.append("".join(rng.choice(words) + rng.choice(seps)
                             for _ in range(rng.randint(1, 4))))
    for name in names:
        assert boilerplate.classify_name.__wrapped__(name) == _classify_with_patterns(name), name
        assert boilerplate._words(name) == boilerplate._CAMEL.sub(" ", name).lower()


@pytest.mark.parametrize("words", ["x embed", "twitter-tweet", "instagram-media", "embedded",
                                   "tiktok-embed", "nav", "", "em bed"])
def test_embed_check_is_the_pattern(words):
    assert boilerplate._is_embed(words) == (boilerplate._EMBED.search(words) is not None)


def test_furniture_reads_the_same_attributes_as_attrib_get():
    markup = ('<div hidden>a</div><div aria-hidden="true">b</div><div aria-hidden="TRUE">c</div>'
              '<div role="Navigation">d</div><div style="display: none">e</div>'
              '<div class="share" id="story">f</div><div id="comments">g</div>'
              '<div class="" id="">h</div><p class=byline>i</p><header>j</header>'
              '<div data-x=1 role=main>k</div>')
    body = parse(f"<html><body>{markup}</body></html>").find("body")
    expected = {}
    for el in body.iter():
        attrib = el.attrib
        if el.tag == "header":
            expected[el] = boilerplate.OTHER
        elif "hidden" in attrib or attrib.get("aria-hidden") == "true":
            expected[el] = boilerplate.OTHER
        elif (attrib.get("role") or "").lower() in boilerplate._ROLES:
            expected[el] = boilerplate.LAYOUT
        elif boilerplate._HIDDEN_STYLE.search(attrib.get("style") or ""):
            expected[el] = boilerplate.OTHER
        else:
            kind = boilerplate.classify_name(f"{attrib.get('class') or ''} {attrib.get('id') or ''}")
            if kind is not None:
                expected[el] = kind
    expected.pop(body, None)
    assert boilerplate.furniture(body) == expected


# --- render / filters: searches chosen by length ----------------------------------------

@pytest.mark.parametrize("length", [0, 1, 2, 99, 100, 101, 102, 250])
def test_double_space_check_is_a_substring_search(length):
    for text in ("a" * length, ("ab " * length)[:length], "  " + "a" * length,
                 "a" * length + "  ", "a " * (length // 2) + " "):
        assert render._has_double_space(text) == ("  " in text)


@pytest.mark.parametrize("key, earlier", [
    (LONG * 2, ["x", "before " + LONG * 2 + " after"]),
    (LONG * 2, [LONG + "different " + LONG]),                # the start matches, the rest not
    (LONG * 2, [LONG, LONG]),                                 # not across two keys
    ("y" * 150, ["x" * 40, "z" + "y" * 150]),
    ("y" * 150, ["y" * 149]),
])
def test_inside_any_of_a_long_key_is_substring_of_one(key, earlier):
    assert filters._inside_any(key, earlier) == any(key in one for one in earlier)


def test_blank_page_is_what_strip_calls_blank():
    for text in ("", " ", "\n\t", "\u3000", "\x1c", " x ", "<p>"):
        assert (parse(text) is None) == (not text.strip())


def test_whitespace_to_the_regex_is_whitespace_to_split_and_strip():
    # metadata._squash replaces re.sub(r"\s+", " ", text).strip() with split and join
    space = re.compile(r"\s")
    for code in range(0x110000):
        char = chr(code)
        assert (space.match(char) is not None) == char.isspace() == (char.strip() == ""), hex(code)


@pytest.mark.parametrize("text", ["", " ", "a", " a  b\n", "\u00a0x\u3000y\u2028", "a\x1cb", "\t\n"])
def test_squash_is_the_regex_and_strip(text):
    assert metadata._squash(text) == re.sub(r"\s+", " ", text).strip()


# --- filters: cheap word tests before the regular expressions ---------------------------

_FOLD = filters._IGNORECASE_EXTRAS


def _items(parsed):
    """(op, argument) pairs of a parsed pattern, nested ones included."""
    for op, arg in parsed:
        yield op, arg
        if op is re._constants.BRANCH:
            for alternative in arg[1]:
                yield from _items(alternative)
        elif op is re._constants.SUBPATTERN:
            yield from _items(arg[-1])
        elif op in (re._constants.MAX_REPEAT, re._constants.MIN_REPEAT):
            yield from _items(arg[2])
        elif op is re._constants.IN:
            yield from arg


def _must_hold(parsed, words) -> bool:
    """True if every string the parsed pattern matches holds one of the words, read from
    literal characters that follow one another (zero-width assertions between them)."""
    c = re._constants
    run = ""
    for op, arg in parsed:
        if op is c.LITERAL:
            run += chr(arg).lower()
            if any(word in run for word in words):
                return True
            continue
        if op is c.AT:
            continue                    # zero-width: the literals around it are adjacent
        run = ""
        if op is c.BRANCH and all(_must_hold(alt, words) for alt in arg[1]):
            return True
        if op is c.SUBPATTERN and _must_hold(arg[-1], words):
            return True
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and arg[0] >= 1 and _must_hold(arg[2], words):
            return True
    return False


def _literal_chars(pattern: str) -> set[str]:
    parsed = re._parser.parse(pattern, re.I)
    return {chr(arg) for op, arg in _items(parsed) if op is re._constants.LITERAL}


@pytest.mark.parametrize("pattern, words", [
    (filters._CREDIT.pattern, filters._CREDIT_WORDS),
    (filters._PROMPT.pattern, filters._PROMPT_WORDS),
])
def test_every_match_holds_one_of_the_words(pattern, words):
    assert _must_hold(re._parser.parse(pattern, re.I), words)


def test_folding_is_what_re_ignorecase_matches_to_each_literal():
    # _folded(text) holds a word wherever re.I matches its literal characters in text
    every = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000)
    chars = (_literal_chars(filters._CREDIT.pattern) | _literal_chars(filters._PROMPT.pattern)
             | _literal_chars(filters._MONTHS))
    for literal in chars:
        for char in set(re.findall(re.escape(literal), every, re.I)):
            assert char.translate(_FOLD).lower() == literal.lower(), (literal, char)
    # and folding is one character for one (so a match keeps its place)
    assert all(len(char.translate(_FOLD).lower()) == 1 for char in every)


def test_month_names_are_plain_lower_case_alternatives():
    # _MONTH_IN_FOLDED runs them case-sensitively over folded text: only literals,
    # alternatives, groups and optional parts, all lower-case, keep every match
    c = re._constants
    parsed = re._parser.parse(filters._MONTHS, re.I)
    assert {op for op, _ in _items(parsed)} <= {c.LITERAL, c.BRANCH, c.SUBPATTERN,
                                                c.MAX_REPEAT, c.IN}
    assert filters._MONTHS == filters._MONTHS.lower()
    assert filters._MONTH_IN_FOLDED.flags & re.I == 0


@pytest.mark.parametrize("text", [
    "Photo: Getty", "PHOTO CREDIT: x", "(AP Photo/Jane Doe)", "© 2020 Reuters", "Source: AFP",
    "Credit: ſhutterstock", "Image: x", "FOTO: x", "Bild: dpa", "Quelle: x", "copyright 2020",
    "A plain sentence", "(Image: BBC)", "Jane Doe/AP", "by Associated Press",
    "Published 12 March 2020", "SEPTEMBER 3, 2019", "Mİttwoch, 3. März 2021", "ſat 2 Jan",
    "12/03/2020 10:00", "Montag 4", "in 2019 the company",
])
def test_word_prefilters_never_hide_a_match(text):
    folded = filters._folded(text, text.lower())
    assert folded == text.translate(_FOLD).lower()
    if filters._CREDIT.search(text):
        assert filters._holds_any(folded, filters._CREDIT_WORDS)
    assert filters._is_credit(text, text.lower()) == (filters._CREDIT.search(text) is not None)
    if filters._MONTH_NAME.search(text):
        assert filters._MONTH_IN_FOLDED.search(folded)


# --- html.parse: UTF-8 bytes give the tree the str gives --------------------------------

@pytest.mark.parametrize("text", [
    "<html><head><meta charset=iso-8859-1></head><body><p>café — naïve \U0001F600</p></body></html>",
    '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251"><p>Журнал</p>',
    "<meta charset=utf-16><p>été</p>", "\x00<p>a\x00b</p>", "<p>\ufeffx\ufffe\uffff</p>",
    "plain é text", "<meta charset=shift_jis><p>日本</p>", "<p>ascii only</p>",
    "<p>latin-1 only: \u00e9\u00ff</p>", "<!DOCTYPE html><title>t</title><p>x<!-- c --><?pi x?>y",
])
def test_parse_of_utf8_bytes_is_the_parse_of_the_text(text):
    from lxml import etree

    def tree(root):
        return etree.tostring(root.getroottree(), encoding=str)
    assert tree(parse(text, text.encode("utf-8"))) == tree(parse(text))


def test_parse_reads_the_text_where_the_bytes_would_differ():
    declared = '<?xml version="1.0" encoding="latin-1"?><p>x</p>'
    assert parse(declared, b"<p>not this</p>").findtext(".//p") == "x"


def test_exact_utf8_only_where_decode_read_the_bytes_as_utf8():
    from archiver.extract import encoding
    for data in ("café".encode(), b"plain", "\ufeffbom".encode(), b"caf\xe9",
                 "caf\u00e9".encode("cp1252"), "x\ufffdy".encode(), b"\xff\xfe"):
        for content_type in (None, "text/html; charset=utf-8", "text/html; charset=latin-1"):
            text, used = encoding.decode(data, content_type)
            exact = encoding.exact_utf8(data, text, used)
            if exact is not None:
                assert exact is data and data.decode("utf-8") == text
    assert encoding.exact_utf8(bytearray(b"x"), "x", "utf-8") is None   # lxml wants bytes


# --- metadata.read: one walk for the elements it reads ----------------------------------

def test_one_walk_finds_what_each_search_finds():
    page = parse(
        "<html><head><title>One</title><meta name=a content=1><script type=x>1</script>"
        "<script>2</script><link rel=canonical href=/c><link href=/d></head><body>"
        "<svg><title>icon</title></svg><h1>H <b>one</b></h1><time>no</time>"
        "<time datetime=2020-01-02>x</time><div><h1>two</h1><meta property=b content=2>"
        "</div></body></html>")
    found = metadata._elements(page)
    assert set(found) == set(metadata._TAGS)
    for tag in metadata._TAGS:
        assert found[tag] == list(page.iterfind(f".//{tag}"))


def test_dense_script_characters_are_not_ascii():
    # is_prose counts them only in text that is not ASCII
    assert not content._DENSE_SCRIPT.search("".join(map(chr, range(128))))


@pytest.mark.parametrize("text", ["", "a" * 19, "日" * 19, "日" * 20, "a" * 59, "日本" * 15,
                                  "a" * 40 + "日" * 10, "a" * 41 + "日" * 10, "é" * 59, "a" * 60])
def test_is_prose_of_short_text_is_length_and_dense_characters(text):
    block = render.Block(text, 0, "p")
    expected = len(text) + 2 * len(content._DENSE_SCRIPT.findall(text)) >= content.MIN_PROSE
    assert content.is_prose(block) == expected


# --- encoding: the <meta> charset found in the lower-cased head, and only when needed ----

def _meta_charset_with_ignorecase(data: bytes):
    from archiver.extract import encoding
    pattern = re.compile(encoding._META_CHARSET.pattern, re.I)
    found = pattern.search(data[:8192])
    return encoding._normalise(found.group(1).decode("ascii", "ignore")) if found else None


def test_meta_charset_of_the_lower_cased_head_is_the_ignorecase_search():
    import random

    from archiver.extract import encoding
    rng = random.Random(7)
    pieces = [b"<meta", b"<META", b"<MeTa", b" charset", b"CHARSET", b"=", b" = ", b"'", b'"',
              b">", b"UTF-8", b"Windows-1252", b"ISO-8859-1", b"koi8-R", b"\xc3\xa9", b"\xff",
              b"\x00", b" ", b"\t", b"x", b"content=\"text/html; charset=", b"_:.-", b"\xe2\x80\x9c"]
    for _ in range(3000):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert encoding.meta_charset(data) == _meta_charset_with_ignorecase(data), data
    long_head = b"x" * 8180 + b"<meta charset=koi8-r>"         # cut at 8192 the same way
    assert encoding.meta_charset(long_head) == _meta_charset_with_ignorecase(long_head)


def test_meta_charset_is_not_searched_when_the_header_decides(monkeypatch):
    from archiver.extract import encoding
    calls = []
    monkeypatch.setattr(encoding, "meta_charset", lambda data: calls.append(data))
    assert encoding.decode(b"caf\xc3\xa9", "text/html; charset=utf-8") == ("café", "utf-8")
    assert calls == []
    encoding.decode(b"caf\xe9", "text/html; charset=utf-8")
    assert calls == [b"caf\xe9"]      # the header's label failed: the <meta> is read next


def _unflag_the_long_way(blocks, chains, flags, headline):
    """_unflag_teasers before suspects were picked: every prose block walks up its chain
    with the text held by every element taken first."""
    _unflag_by_sums(blocks, chains, flags, headline, None)


def _unflag_by_sums(blocks, chains, flags, headline, levels):
    """Sum the text, prose and linked headlines of every block into each element of its
    chain (its first `levels` + 1, or all with None), then clear the flag of a prose block
    that reaches a linked headline before too much text or other prose."""
    top = None if levels is None else levels + 1
    total, prose, headlines = {}, {}, {}
    for block, chain, good in zip(blocks, chains, flags):
        linked = bool(block.link_chars) and content._is_linked_headline(block)
        for node in chain[:top]:
            total[node] = total.get(node, 0) + len(block.text)
            prose[node] = prose.get(node, 0) + good
            headlines[node] = headlines.get(node, 0) + linked
    for i, (block, chain) in enumerate(zip(blocks, chains)):
        for node in chain[1:top] if flags[i] else ():
            if (prose[node] > 1 or total[node] > content.TEASER_SPAN * len(block.text)
                    or node in headline):
                break
            if headlines[node]:
                flags[i] = False
                break


def test_teasers_found_among_suspects_are_those_of_the_long_way():
    import random
    rng = random.Random(11)
    unflagged = 0
    for markup in PAGES + [_random_page(rng) for _ in range(600)]:
        body = parse(f"<html><body>{markup}</body></html>").find("body")
        blocks = render.blocks(body)
        chains = content._Tree(blocks).teaser_chains(blocks)
        assert chains == [tuple(content._chain(block.element)[:content.TEASER_LEVELS + 1])
                          for block in blocks]
        flags = [content.is_prose(block) for block in blocks]
        headline = content._headline_ancestors(blocks)
        quick, long_way = list(flags), list(flags)
        content._unflag_teasers(blocks, chains, quick, headline)
        _unflag_the_long_way(blocks, chains, long_way, headline)
        assert quick == long_way, markup
        unflagged += flags != quick
    assert unflagged > 20          # the pages hold teasers, not only prose that stays


# --- filters: the patterns' alternatives start only where a word does ------------------

def _first_atoms(branch: str) -> set[str]:
    """The first letters (or \\d) a branch of a pattern can start with; AssertionError
    where it starts with anything else."""
    branch = branch.removeprefix("^")
    if branch.startswith("(?:"):
        group = branch[:branch.index(")") + 1]       # the groups opening a branch are flat
        return set().union(*map(_first_atoms, _top_level_branches(group)))
    assert branch[0].isalpha() or branch.startswith(r"\d"), branch
    return {branch[0] if branch[0].isalpha() else r"\d"}


def test_every_lookahead_alternative_starts_with_what_only_a_word_character_matches():
    firsts = set()
    for pattern in (filters._DATE_WORDS.pattern, filters._MONTH_NAME.pattern,
                    filters._PROMPT.pattern, filters._SITE_LINE.pattern):
        assert pattern.startswith(r"\b(?=\w)(?:")
        for branch in _top_level_branches(pattern) + filters._MONTHS.split("|"):
            firsts |= _first_atoms(branch)
    everything = "".join(map(chr, range(0x110000)))
    for first in firsts:       # what re.I matches to each first atom: all \w to re
        matched = re.findall(first, everything, re.I)
        assert matched and all(char.isalnum() or char == "_" for char in matched), first


def test_patterns_with_the_lookahead_match_as_without():
    import random
    rng = random.Random(5)
    pieces = ["Published", " on ", "Monday", ", ", "12", "th", " March ", "2021", " at ",
              "10:00", " a.m.", " GMT", "mayo", "märz", "MÄRZ", "ſept", "\u212aw", "segunda-feira",
              " by ", "x", "_", "é", "1st", "\u0130", "-", "à", " ", "\u00a0", "day",
              "Subscribe to our", " newsletter", "click here", "Follow", " on Twitter",
              "in your inbox", "all rights reserved", "\n", "comments are closed", "our"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for quick in (filters._DATE_WORDS, filters._MONTH_NAME, filters._PROMPT,
                      filters._SITE_LINE):
            plain = re.compile(quick.pattern.replace(r"\b(?=\w)(?:", r"\b(?:", 1), re.I)
            assert quick.sub(" ", text) == plain.sub(" ", text), text

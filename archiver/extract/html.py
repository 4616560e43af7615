"""Article text of an HTML page: parse, read metadata, strip furniture, find, render."""
from __future__ import annotations

import re

from lxml import etree

from archiver.extract import boilerplate, content, filters, metadata, render
from archiver.extract.compiled import COMPILED
from archiver.extract.deadline import Deadline, NoDeadline

MAX_CHARS = 4_000_000          # longer documents are cut before parsing
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")

_OPTIONS = dict(remove_comments=True, remove_pis=True, no_network=True, recover=True,
                collect_ids=False, default_doctype=False)
_PARSER = etree.HTMLParser(**_OPTIONS)
# For the same text as UTF-8 bytes. lxml hands libxml2 a str in its own storage, which
# for most pages is UTF-16 that libxml2 first converts to UTF-8; bytes already in UTF-8
# are read as they are, with the encoding given just as it is for a str (a <meta>
# charset is not followed), so the tree is the same.
_UTF8_PARSER = etree.HTMLParser(encoding="utf-8", **_OPTIONS)


def parse(text: str, utf8: bytes | None = None):
    """The document's root element, or None for a blank page. libxml2 recovers from any
    markup and stops descending past 256 levels; text past MAX_CHARS is not read.

    utf8, if given, is text encoded as UTF-8 (cheaper to parse)."""
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        utf8 = None
    if _XML_DECLARATION.match(text):
        text = _XML_DECLARATION.sub("", text, count=1)   # lxml refuses one in a str
        utf8 = None
    if not text or text.isspace():        # what strip() would tell, without a copy
        return None
    if utf8 is not None:
        return etree.fromstring(utf8, _UTF8_PARSER)
    return etree.fromstring(text, _PARSER)


def extract_html(text: str, url: str | None = None, deadline: Deadline | None = None,
                 utf8: bytes | None = None) -> tuple[str, str, dict]:
    """(title, body text, metadata). Raises TimedOut when the deadline passes. utf8, if
    given, is text encoded as UTF-8 (see parse).

    The steps, in order: parse; read title and metadata (JSON-LD lives in scripts, so
    before anything is removed); strip elements that never hold text; mark furniture;
    cut the page into blocks and choose the article's container; render the container
    without the furniture; keep the blocks that pass the filters."""
    deadline = deadline or NoDeadline()
    root = parse(text, utf8)
    if root is None:
        return "", "", metadata.empty_metadata()
    title, meta, _article = metadata.read(root, url)
    deadline.check()
    body = root.find("body")
    if body is None:
        body = root
    boilerplate.strip_structural(body)
    furniture = boilerplate.furniture(body, _proxies_for_python_passes(body))
    deadline.check()
    page_blocks, spans = render.blocks_and_spans(body, deadline)
    container, dropped = content.select(page_blocks, furniture, deadline)
    if container is None:
        container = body                    # no prose anywhere: keep what short text there is
    deadline.check()
    article_blocks = render.blocks_within(page_blocks, spans, container, dropped,
                                           deadline)
    if article_blocks is None:             # not a clean cut: walk the container again
        article_blocks = render.blocks(container, deadline, skip=dropped)
    text = _compose(article_blocks, title)
    return title, text, meta


def _proxies_for_python_passes(body) -> list | None:
    """Every element's proxy, where the Python passes run: each reads every element, and
    lxml would make and free a proxy for each on each pass. The compiled passes read the
    nodes themselves and make a proxy only for an element they keep (None then)."""
    if COMPILED is not None:
        return None
    return list(body.iter(etree.Element))


def _compose(blocks: list[render.Block], title: str) -> str:
    return "\n\n".join(filters.keep(blocks, title, content.is_prose))

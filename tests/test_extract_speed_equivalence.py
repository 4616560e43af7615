"""render.blocks_within walks again only the block around a skipped element that does not
cut cleanly; what it gives is still exactly a walk of the container of its own."""
from __future__ import annotations

import pytest

from archiver.extract import render
from archiver.extract.html import parse
from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)

LONG = "The council met on Tuesday and agreed to repair the harbour wall before spring. "
PAGES = [
    # an inline element inside a paragraph
    f"<div id=c><p>{LONG}<span class=ad>Advertisement</span> more</p><p>{LONG}</p></div>",
    f"<div id=c><p>{LONG}<ins class=ad></ins>\n</p><p>{LONG}<img class=ad> after</p></div>",
    # inside a link, and inside a list: the block around it is further up
    f"<div id=c><section><a href=/><p>{LONG}<span class=ad>x</span> y</p></a> z</section>"
    f"<p>{LONG}</p></div>",
    f"<div id=c><div><ul><li>{LONG}<b class=ad>x</b> y</li><li>next</li></ul></div></div>",
    # a block element with text pending before it
    f"<div id=c><div>before <div class=ad>Buy</div> after</div><p>{LONG}</p></div>",
    f"<div id=c><p>{LONG}</p>loose text<div class=ad><p>inside</p></div>tail<p>{LONG}</p></div>",
    # several, nested in one another and next to clean cuts
    f"<div id=c><div class=ad><p>gone</p></div><div><p>{LONG}<span class=ad>a"
    f"<span class=ad>b</span></span> c</p><div class=ad>d</div> e</div></div>",
    f"<div id=c><table><tr><td>{LONG}<span class=ad>x</span></td><td>y</td></tr></table></div>",
    # the skipped element right under the container: nothing to walk but the container
    f"<div id=c>{LONG}<span class=ad>x</span> y</div>",
]


@pytest.mark.parametrize("markup", PAGES)
def test_blocks_within_equals_a_walk_of_the_container(markup):
    body = parse(f"<html><body>{markup}</body></html>").find("body")
    page, spans = render.blocks_and_spans(body)
    skip = set(body.xpath("//*[@class='ad']"))
    cuts = 0
    for element in [body] + list(body.iter()):
        cut = render.blocks_within(page, spans, element, skip)
        if cut is not None:
            assert cut == render.blocks(element, None, skip)
            cuts += 1
    assert cuts > 0           # the page's container at least is cut, not walked


def test_a_skipped_span_inside_a_paragraph_is_cut_without_walking_the_container():
    body = parse(f"<html><body>{PAGES[0]}</body></html>").find("body")
    page, spans = render.blocks_and_spans(body)
    container = body.find("div")
    skip = set(body.xpath("//*[@class='ad']"))
    cut = render.blocks_within(page, spans, container, skip)
    assert cut is not None
    assert [block.text for block in cut] == [LONG.strip() + " more", LONG.strip()]

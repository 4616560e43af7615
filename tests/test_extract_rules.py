"""The extractor's rules, one page shape at a time."""
from __future__ import annotations

import pytest

from archiver.extract import extract_text
from archiver.extract.filters import is_dateline, is_noise
from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)

PARAS = [
    "The committee met for the third time this autumn and agreed, after a long debate, "
    "to publish the full report before the end of the year.",
    "Members said the delay had been caused by the volume of evidence, which ran to more "
    "than four thousand pages and took months to read with care.",
    "The chair thanked the staff and said the findings would be presented to the public "
    "at an open meeting in the town hall in early December.",
]


def _article(paras=PARAS, wrapper="div"):
    inner = "".join(f"<p>{p}</p>" for p in paras)
    return f"<{wrapper} class='story'><h1>Committee to publish report</h1>{inner}</{wrapper}>"


def _page(*parts: str) -> bytes:
    return ("<html><head><title>Committee to publish report</title></head><body>"
            + "".join(parts) + "</body></html>").encode("utf-8")


def test_teaser_cards_are_not_the_article():
    cards = "".join(
        f"<div class='card'><h3><a href='/s{i}'>Another story number {i} about the city</a></h3>"
        f"<p>An excerpt of another story, long enough to look like prose when taken on "
        f"its own, number {i}.</p></div>" for i in range(12))
    text = extract_text(_page(_article(), f"<div class='grid'>{cards}</div>"))
    assert text.split("\n\n") == PARAS


def test_layout_wrapper_with_a_furniture_name_is_kept():
    page = _page("<div class='content-with-sidebar'><div class='main'>", _article(),
                 "</div><div class='sidebar'><p>Sidebar text that is long enough to be "
                 "prose if nothing else stopped it from being so.</p></div></div>")
    assert extract_text(page).split("\n\n") == PARAS


def test_comments_are_dropped_even_when_longer_than_the_article():
    comments = "".join(f"<div class='comment'><p>{p} (reader {i})</p></div>"
                       for i in range(6) for p in PARAS)
    page = _page(_article(), f"<section id='comments'><h2>Comments</h2>{comments}</section>")
    assert extract_text(page).split("\n\n") == PARAS


@pytest.mark.parametrize("hidden", ["<div hidden>{}</div>", "<div style='display: none'>{}</div>",
                                    "<div aria-hidden='true'>{}</div>"])
def test_hidden_text_is_dropped(hidden):
    secret = "<p>This text is hidden from readers and must not be in the capture at all.</p>"
    page = _page(_article(PARAS[:2]), hidden.format(secret), "<p>" + PARAS[2] + "</p>")
    assert "hidden from readers" not in extract_text(page)


def test_text_in_divs_and_line_breaks():
    body = "<div class='post'>" + "<br><br>".join(PARAS) + "</div>"
    assert extract_text(_page(body)).split("\n\n") == PARAS


def test_table_row_is_one_paragraph():
    table = "<table><tr><th>Team</th><th>Points</th></tr><tr><td>North</td><td>12</td></tr></table>"
    text = extract_text(_page(_article(PARAS[:2] + [table] + PARAS[2:])))
    assert "Team Points\n\nNorth 12" in text


def test_headings_and_captions_are_paragraphs_of_their_own():
    figure = "<figure><img src='a.jpg'><figcaption>The town hall, seen from the square</figcaption></figure>"
    text = extract_text(_page(_article([PARAS[0], "<h2>What happens next</h2>", figure, PARAS[1]])))
    assert text.split("\n\n") == [PARAS[0], "What happens next",
                                  "The town hall, seen from the square", PARAS[1]]


def test_link_lists_inside_the_article_are_dropped():
    links = "<ul>" + "".join(f"<li><a href='/r{i}'>Related story {i}</a></li>" for i in range(4)) + "</ul>"
    text = extract_text(_page(_article([PARAS[0], links, PARAS[1]])))
    assert "Related story" not in text


@pytest.mark.parametrize("line", [
    "Advertisement", "ADVERTISEMENT", "Share this article", "Read more", "Image 2 of 5",
    "Photo: Jane Doe/Reuters", "(Image credit: NASA)", "Updated Nov. 19, 2019 8:21 am ET",
    "Tuesday, January 6, 2026", "19 Nov 2019 05:44 GMT", "Subscribe to our newsletter",
    "Home › World › Europe", "Copyright © 2026 Example Ltd.", "Comments",
    "We use cookies to improve your experience. By using the site you accept our use of cookies.",
    '<img height="1" width="1" src="https://pixel.example/p">',
])
def test_interface_lines_are_noise(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", [
    "Home prices rose again in March.", "The vote is on May 5.", "Step 3", "<3 you",
    "Follow the money, the investigators said.", "<The Palace: Tale of Jang Noksu>",
    "Regulators said the website uses cookies to follow visitors without their consent.",
    "Chapter 12", "The company updated its privacy policy on Tuesday, regulators said.",
    '"Join us," she told the crowd outside the town hall.',
])
def test_article_lines_are_not_noise(line):
    assert not is_noise(line)


def test_datelines():
    assert is_dateline("Published Wed, Nov 20 2019 4:29 AM EST")
    assert is_dateline("segunda-feira, 22 de janeiro de 2018 às 0:13")
    assert not is_dateline("In 2019 the company sold 12 million phones")


def test_an_article_that_a_site_tags_as_comment_is_still_the_article():
    page = _page("<div class='content tone-comment'>", _article(), "</div>",
                 "<div class='comments'><p>A reader's comment that is long enough to be "
                 "prose, written below the opinion piece.</p></div>")
    assert extract_text(page).split("\n\n") == PARAS

"""Golden tests: article pages built around the reference texts in seeds/.

Each page wraps a reference text in the furniture real news sites carry (navigation, a
breadcrumb, a date bar, a cookie dialog, a share bar, related links, comments, a
newsletter box, a footer). The extracted body must be the article's text, line for line,
without the residue the reference files still carry.
"""
from __future__ import annotations

import html
from pathlib import Path

import pytest

from archiver.extract import extract, extract_text
from tests.compiled_equivalence import both_block_passes_agree  # noqa: F401 (autouse)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _is_heading(line: str) -> bool:
    return len(line) < 80 and not line.endswith((".", "”", "\"", "?", "!", ":"))


def _paragraphs(lines: list[str]) -> str:
    out = []
    for line in lines:
        tag = "h2" if _is_heading(line) else "p"
        out.append(f"<{tag}>{html.escape(line, quote=False)}</{tag}>")
    return "\n".join(out)


NAV = """
<header class="site-header">
  <div class="top-bar"><span class="td-data-time">{date}</span>
    <a href="/login">Sign in</a></div>
  <div class="logo"><a href="/"><img src="/logo.png" alt="Site logo">NCRI</a></div>
  <nav class="main-menu"><ul>
    <li><a href="/">Home</a></li><li><a href="/news">Iran News Now</a></li>
    <li><a href="/protests">Iran Protests &amp; Demonstrations</a></li>
    <li><a href="/statements">Statements</a></li><li><a href="/about">About us</a></li>
  </ul></nav>
</header>
"""

SHARE = """
<div class="social-share-bar"><span>Share this:</span>
  <a href="https://facebook.com/sharer">Facebook</a> <a href="https://x.com/share">Twitter</a>
  <a href="mailto:?subject=article">Email</a> <a href="#print">Print</a></div>
"""

RELATED = """
<div class="related-posts"><h3>Related articles</h3>
  <div class="post-card"><h4><a href="/a1">Iran Uprising Day 6: Students Join Bazaar Strikes</a></h4>
    <p>Students at a dozen universities walked out of classes on Friday as merchants in the
    capital's bazaar kept their shops closed for a second day.</p></div>
  <div class="post-card"><h4><a href="/a2">Iran Uprising Day 5: Night Rallies in Isfahan and Tabriz</a></h4>
    <p>Crowds gathered after dark in several districts, chanting slogans against the
    authorities while security forces blocked the main squares.</p></div>
</div>
"""

NEWSLETTER = """
<div class="newsletter-signup"><h3>Stay informed</h3>
  <p>Subscribe to our newsletter and get the latest reports delivered to your inbox every morning.</p>
  <form action="/subscribe"><input type="email" name="email"><button>Subscribe</button></form></div>
"""

FOOTER = """
<footer class="site-footer"><div class="footer-widgets">
  <p>NCRI is a coalition of organizations and personalities. Read more about our mission and
  the people behind it on the about page of this website.</p>
  <ul><li><a href="/contact">Contact</a></li><li><a href="/privacy">Privacy policy</a></li></ul>
  <p>&copy; 2026 All rights reserved.</p></div></footer>
"""


def seed_000_page() -> tuple[bytes, str, list[str], list[str]]:
    """(page, headline, expected body lines, residue lines) for the first reference."""
    lines = (SEEDS / "000_9df8495c4ee709c9.txt").read_text(encoding="utf-8").splitlines()
    date, crumb, headline = lines[0], lines[1], lines[3]
    image_title, caption = lines[5], lines[6]
    cookie_at = lines.index("NCRI")
    article = _lines("\n".join(lines[8:cookie_at]))
    cookie = _lines("\n".join(lines[cookie_at:]))
    page = f"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8">
<title>{html.escape(headline)} - NCRI</title>
<meta property="og:title" content="{html.escape(headline)}">
<meta property="og:site_name" content="NCRI">
<meta name="description" content="The nationwide uprising in Iran entered its seventh day.">
<meta property="article:published_time" content="2026-01-04T09:30:00+00:00">
<link rel="canonical" href="https://www.example.org/iran-news/iran-uprising-day-7/">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "{headline}", "author": {{"@type": "Person", "name": "NCRI Staff"}},
 "datePublished": "2026-01-04T09:30:00+00:00"}}</script>
<style>.cli-modal {{ display: block; }}</style>
</head><body class="post-template-default single single-post">
{NAV.format(date=html.escape(date))}
<div class="td-crumb-container"><div class="entry-crumbs">
  <span><a href="/">Home</a></span><span><a href="/news">Iran News Now</a></span><span><a
  href="/protests">Iran Protests &amp; Demonstrations</a></span><span
  class="td-bred-no-url-last">{html.escape(crumb.split("Demonstrations", 1)[1])}</span></div></div>
<div class="content-with-sidebar">
<main id="main">
<article class="post type-post">
  <header class="entry-header"><h1 class="entry-title">{html.escape(headline)}</h1>
    <div class="entry-meta"><span class="author">By NCRI Staff</span>
    <time datetime="2026-01-04">January 4, 2026</time></div></header>
  {SHARE}
  <div class="entry-content">
    <figure class="wp-caption"><img src="/rally.jpg" alt="">
      <div class="image-title">{html.escape(image_title)}</div>
      <figcaption class="wp-caption-text">{html.escape(caption)}</figcaption></figure>
    {_paragraphs(article)}
    <div class="advertisement ad-slot"><span>Advertisement</span></div>
  </div>
  <div class="post-tags"><span>Tags:</span> <a href="/t/iran">Iran</a> <a href="/t/protests">protests</a></div>
  {SHARE}
</article>
{RELATED}
{NEWSLETTER}
<div id="comments" class="comments-area"><h3>Leave a Reply</h3>
  <p>Your email address will not be published. Required fields are marked with a star.</p></div>
</main>
<aside class="sidebar"><h3>Most read</h3><ul>
  <li><a href="/x1">The regime's economy is on the brink, say analysts from several capitals</a></li>
  <li><a href="/x2">Political prisoners write an open letter to the youth of Iran</a></li></ul></aside>
</div>
{FOOTER}
<div id="cookie-law-info-bar"><span>We use cookies to give you the best experience.
  <a role="button" class="cli_settings_button">Cookie settings</a>
  <a role="button" class="cli_action_button">Accept</a></span></div>
<div class="cli-modal" id="cliSettingsPopup" role="dialog"><div class="cli-modal-content">
  <div class="cli-privacy-overview"><div class="cli-logo">{html.escape(cookie[0])}</div>
  <h4>{html.escape(cookie[1])}</h4>
  <div class="cli-privacy-content-text">{html.escape(" ".join(cookie[2:]))}</div></div>
</div></div>
</body></html>"""
    expected = [image_title, caption] + article
    return page.encode("utf-8"), headline, expected, [date, crumb] + cookie


def seed_004_page() -> tuple[bytes, str, list[str], list[str]]:
    """(page, headline, expected body lines, residue lines) for the second reference."""
    lines = _lines((SEEDS / "004_e7b28319a6b1b14f.txt").read_text(encoding="utf-8"))
    comments_at = lines.index("COMMENTS")
    article, residue = lines[:comments_at], lines[comments_at:]
    headline = "Protests Spread to Regime Strongholds as Iranians Defy the Ayatollah"
    body = "\n".join(f"<p>{html.escape(line, quote=False)}</p>" for line in article)
    page = f"""<!doctype html>
<html lang="en"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{headline} | Example News</title>
<meta property="og:title" content="{headline}">
<meta name="author" content="Jane Example">
<meta property="og:site_name" content="Example News">
<script>window.dataLayer = [{{"section": "national-security"}}];</script>
</head><body>
<div id="top-ad" class="ad-container"><div class="ad">Advertisement</div></div>
<header class="masthead"><a class="logo" href="/">Example News</a>
  <nav role="navigation"><a href="/politics">Politics</a> <a href="/world">World</a>
  <a href="/tech">Tech</a> <a href="/sports">Sports</a> <a href="/video">Video</a></nav></header>
<div class="page-wrapper">
  <div class="main-column">
    <article class="the-article">
      <header><h1>{headline}</h1>
        <address class="byline">by <a href="/author/jane">Jane Example</a></address>
        <time datetime="2026-01-06T10:00:00Z">6 Jan 2026</time></header>
      <div class="social-buttons"><a href="#fb">Share on Facebook</a>
        <a href="#tw">Post on X</a> <a href="#mail">Email</a></div>
      <div class="entry-content">
        {body}
      </div>
      <p class="tags">Tags: <a href="/t/iran">Iran</a>, <a href="/t/protests">protests</a></p>
    </article>
    <section class="more-stories"><h2>Read more</h2><ul>
      <li><a href="/r1">Khamenei's Regime Faces Largest Protests Since 2022</a></li>
      <li><a href="/r2">Oil Prices Jump on Middle East Tensions and Supply Fears</a></li>
      <li><a href="/r3">What to Know About the Iranian Economy in 2026</a></li></ul></section>
    <section id="comments" class="comments">
      <h2>{html.escape(residue[0])}</h2>
      <p>{html.escape(residue[1])}</p>
      <div id="disqus_thread"><div class="comment"><p>Reader comment: the people will win
      in the end, as they always do when they refuse to back down from a regime.</p></div></div>
    </section>
  </div>
  <div class="sidebar rail"><h3>Trending</h3>
    <ol><li><a href="/t1">Markets rally as inflation cools for a third straight month</a></li>
    <li><a href="/t2">Congress returns to a crowded agenda after the holiday break</a></li></ol>
    <div class="newsletter">Sign up for our newsletter and never miss a story again!</div></div>
</div>
<footer><p>Copyright &copy; 2026 Example News. All rights reserved.</p>
  <p><a href="/terms">Terms of use</a> | <a href="/privacy">Privacy</a></p></footer>
<div class="cookie-consent-banner" role="alertdialog"><p>We and our partners use cookies to
  personalise content and ads. By continuing you agree to our use of cookies.</p>
  <button>Accept all</button></div>
</body></html>"""
    return page.encode("utf-8"), headline, article, residue


@pytest.mark.parametrize("build", [seed_000_page, seed_004_page], ids=["seed-000", "seed-004"])
def test_golden_page_gives_the_reference_text_without_residue(build):
    page, headline, expected, residue = build()
    result = extract(page, url="https://www.example.org/article",
                     content_type="text/html; charset=utf-8")
    assert result.reason is None
    assert result.title == headline
    assert _lines(result.text) == expected
    for line in residue:
        assert line not in _lines(result.text)
        assert len(line) < 30 or line not in result.text
    assert result.document().startswith(headline + "\n\n")
    assert extract_text(page) == result.text


def test_golden_body_format_is_blank_line_separated_paragraphs():
    page, _headline, expected, _residue = seed_004_page()
    text = extract_text(page)
    assert text.split("\n\n") == expected
    assert "\n\n\n" not in text and text == text.strip()


def test_golden_metadata_of_the_first_page():
    page, headline, _expected, _residue = seed_000_page()
    meta = extract(page, content_type="text/html").metadata
    assert meta["authors"] == ["NCRI Staff"]
    assert meta["date"] == "2026-01-04T09:30:00+00:00"
    assert meta["site_name"] == "NCRI"
    assert meta["language"] == "en-US"
    assert meta["canonical_url"] == "https://www.example.org/iran-news/iran-uprising-day-7/"
    assert meta["description"].startswith("The nationwide uprising")


def test_seed_copies_match_the_shared_reference_files():
    shared = Path("/work/shared/seeds")
    if not shared.is_dir():
        pytest.skip("the shared reference folder is not on this machine")
    for path in shared.glob("*.txt"):
        assert (SEEDS / path.name).read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name, residue_at", [
    ("000_9df8495c4ee709c9.txt", {0, 1, -3, -2, -1}),
    ("004_e7b28319a6b1b14f.txt", {-2, -1}),
])
def test_residue_is_left_out_even_without_telling_markup(name, residue_at):
    """The reference lines in plain <div>s and <p>s, with no class names or landmarks:
    the date, the breadcrumb, the cookie notice and the comments prompt must still go."""
    lines = _lines((SEEDS / name).read_text(encoding="utf-8"))
    residue = {lines[i] for i in residue_at}
    body = "\n".join(f"<div>{html.escape(line)}</div>" if len(line) < 80
                     else f"<p>{html.escape(line)}</p>" for line in lines)
    page = f"<html><head><title>Page</title></head><body><div>{body}</div></body></html>"
    text = extract_text(page.encode("utf-8"))
    assert _lines(text) == [line for line in lines if line not in residue]

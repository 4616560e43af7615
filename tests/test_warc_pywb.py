"""Our WARCs replay in pywb: the archived bytes exactly, and the page rewritten for a browser."""
from __future__ import annotations

import requests

from tests.pywb_replay import pywb_replay, require_pywb
from tests.test_warc_writer import (  # noqa: F401  (fixtures: the loopback site, cleanup)
    ARTICLE, ARTICLE_TEXT, ARTICLE_TITLE, _close_everything, capture_of, make_harness, page_text,
    raw_fetch, site,
)


def _stamp(exchange) -> str:
    return exchange.started_at.strftime("%Y%m%d%H%M%S")


def test_a_captured_page_replays_in_pywb(tmp_path, site):  # noqa: F811
    require_pywb()
    h = make_harness(tmp_path, warc_roll_bytes=2048)    # two captures per file at most
    article = raw_fetch(site.url("/article"))
    chunked = raw_fetch(site.url("/chunked"))
    redirect = raw_fetch(site.url("/redirect"))
    for i, result in enumerate((article, chunked, redirect), 1):
        h.writer.write_capture(capture_of(result, i, text=page_text()))
    h.writer.close()
    assert len(h.sealed) >= 2

    with pywb_replay(h.settings.warc_dir) as replay:
        # id_: the original body, byte for byte
        raw = requests.get(replay.raw_url(site.url("/article"), _stamp(article.final)), timeout=30)
        assert raw.status_code == 200, raw.text[:500]
        assert raw.content == ARTICLE
        assert raw.headers["Content-Type"].startswith("text/html")
        # chunked on the wire, whole in replay
        raw = requests.get(replay.raw_url(site.url("/chunked"), _stamp(chunked.final)), timeout=30)
        assert raw.status_code == 200 and raw.content == ARTICLE
        # latest capture without a timestamp
        assert requests.get(replay.raw_url(site.url("/article")), timeout=30).content == ARTICLE
        # the rewritten page, as a browser gets it
        page = requests.get(replay.page_url(site.url("/article"), _stamp(article.final)), timeout=30)
        assert page.status_code == 200
        assert ARTICLE_TITLE in page.text and ARTICLE_TEXT in page.text
        assert "wombat" in page.text.lower()           # pywb's client-side rewriting is in
        # the redirect replays as a redirect to the archived target
        hop = requests.get(replay.raw_url(site.url("/redirect"), _stamp(redirect.exchanges[0])),
                           timeout=30, allow_redirects=False)
        assert hop.status_code in (301, 302, 307), hop.status_code
        assert "/article" in hop.headers["Location"]


def test_a_plain_text_page_replays_as_itself_not_as_our_conversion_record(tmp_path, site):  # noqa: F811
    """The conversion record shares the page's URL; the CDXJ index must not serve it."""
    require_pywb()
    h = make_harness(tmp_path)
    result = raw_fetch(site.url("/text"))
    h.writer.write_capture(capture_of(result, text="Extracted\n\nnot the original"))
    h.writer.close()
    with pywb_replay(h.settings.warc_dir) as replay:
        raw = requests.get(replay.raw_url(site.url("/text"), _stamp(result.final)), timeout=30)
        assert raw.status_code == 200
        assert raw.content == b"plain words, as served\n"


def test_missing_pywb_skips_on_a_laptop_and_fails_in_ci(monkeypatch, tmp_path):
    import pytest

    import tests.pywb_replay as pywb_replay_module
    monkeypatch.setattr(pywb_replay_module, "WAYBACK", tmp_path / "no-such-wayback")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="make pywb"):
        require_pywb()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="make pywb"):
        require_pywb()

"""One contract for full-text search, run on SQLite FTS5 and on PostgreSQL tsvector."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from archiver.db import make_engine, make_session_factory, migrate, transaction
from archiver.models import Capture
from archiver.search import QueryError, SearchQuery, search_index_for
from archiver.sites import site_of

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

DOCS = [
    # (url, title, text, status, content type, days after T0, state)
    ("https://news.example/politics/budget", "Parliament passes the budget",
     "The parliament passed the annual budget after a long debate about hospitals.", 200, "text/html", 0, "stored"),
    ("https://www.news.example/science/comet", "A comet returns",
     "Astronomers watched the comet pass close to the sun. The budget for telescopes grew.", 200, "text/html", 1, "stored"),
    ("https://blog.other.example/post", "Notes on hospitals",
     "Hospitals and their budget: a long post.", 200, "text/html; charset=utf-8", 2, "stored"),
    ("https://docs.example/report.pdf", "Annual report",
     "Report of the hospital foundation. Budget tables follow.", 200, "application/pdf", 3, "stored"),
    ("https://news.example/missing", None, None, 404, "text/html", 4, "stored"),
    ("https://fa.example/خبر", "بودجه سالانه تصویب شد", "مجلس بودجه سالانه را پس از بحث طولانی تصویب کرد.", 200,
     "text/html", 5, "stored"),
    ("https://news.example/queued", "Budget budget budget", "budget", None, None, 6, "queued"),
]


@pytest.fixture
def catalogue(database_url):
    migrate(database_url)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    ids = []
    with transaction(sessions) as session:
        index = search_index_for(session)
        for url, title, body, status, ctype, days, state in DOCS:
            c = Capture(state=state, source="api", requested_url=url, final_url=url, site=site_of(url),
                        title=title, text=body, http_status=status, content_type=ctype,
                        queued_at=T0, fetched_at=T0 + timedelta(days=days), attempts=1)
            session.add(c)
            session.flush()
            index.index(session, c.id)
            ids.append(c.id)
    yield sessions, ids
    engine.dispose()


def run(sessions, **kwargs):
    with sessions() as session:
        return search_index_for(session).search(session, SearchQuery(**kwargs))


def urls(page):
    return [h.url for h in page.hits]


def test_words_match_title_text_and_url(catalogue):
    sessions, _ = catalogue
    assert set(urls(run(sessions, text="budget"))) == {
        DOCS[0][0], DOCS[1][0], DOCS[2][0], DOCS[3][0]}          # never the queued capture
    assert urls(run(sessions, text="comet")) == [DOCS[1][0]]
    assert urls(run(sessions, text="politics")) == [DOCS[0][0]]  # a word of the URL
    assert run(sessions, text="nonexistentword").total == 0


def test_all_words_must_match_and_phrases_keep_order(catalogue):
    sessions, _ = catalogue
    assert urls(run(sessions, text="budget hospitals")) == [DOCS[0][0], DOCS[2][0]] or \
        set(urls(run(sessions, text="budget hospitals"))) == {DOCS[0][0], DOCS[2][0]}
    assert urls(run(sessions, text='"annual budget"')) == [DOCS[0][0]]
    assert run(sessions, text='"budget annual"').total == 0


def test_relevance_puts_title_matches_first(catalogue):
    sessions, _ = catalogue
    page = run(sessions, text="budget")
    assert page.hits[0].url == DOCS[0][0]        # in the title and the text
    assert page.hits[0].score >= page.hits[-1].score


@pytest.mark.parametrize("date_scan_threshold", [0, 10_000])
def test_date_sort_and_pagination(catalogue, monkeypatch, date_scan_threshold):
    # both plans: walking the date index (many matches) and sorting the matches (few)
    monkeypatch.setattr("archiver.search.backends.DATE_SCAN_THRESHOLD", date_scan_threshold)
    sessions, _ = catalogue
    first = run(sessions, text="budget", sort="date", per_page=2)
    second = run(sessions, text="budget", sort="date", per_page=2, page=2)
    assert first.total == second.total == 4 and first.pages == 2
    assert urls(first) + urls(second) == [DOCS[3][0], DOCS[2][0], DOCS[1][0], DOCS[0][0]]


def test_filters(catalogue):
    sessions, _ = catalogue
    assert set(urls(run(sessions, text="budget", site="news.example"))) == {DOCS[0][0], DOCS[1][0]}
    assert urls(run(sessions, text="budget", content_type="application/pdf")) == [DOCS[3][0]]
    assert set(urls(run(sessions, text="budget", content_type="text"))) == {DOCS[0][0], DOCS[1][0], DOCS[2][0]}
    assert set(urls(run(sessions, text="budget", content_type="TEXT/HTML"))) == {DOCS[0][0], DOCS[1][0], DOCS[2][0]}
    assert run(sessions, text="budget", content_type="text/htm").total == 0
    assert urls(run(sessions, text="budget", site="www.news.example")) == [DOCS[1][0]]
    assert run(sessions, text="budget", site="ews.example").total == 0
    assert urls(run(sessions, text="budget", since=T0 + timedelta(days=1),
                    until=T0 + timedelta(days=3))) in ([DOCS[1][0], DOCS[2][0]], [DOCS[2][0], DOCS[1][0]])
    assert urls(run(sessions, status=404)) == [DOCS[4][0]]   # no words: browse, newest first


def test_unicode_text_is_found(catalogue):
    sessions, _ = catalogue
    page = run(sessions, text="بودجه")
    assert urls(page) == [DOCS[5][0]]
    assert "بودجه" in page.hits[0].snippet_text


def test_snippets_mark_matches_and_are_escaped(catalogue):
    sessions, _ = catalogue
    [hit] = run(sessions, text="comet sun").hits
    assert "<mark>" in hit.snippet_html and "\x02" not in hit.snippet_text


@pytest.mark.parametrize("text", ['"', "AND OR NOT", "title:x", "a*", "NEAR(a b)", "-budget", "'; DROP TABLE captures; --", "((("])
def test_query_syntax_from_users_never_breaks_the_search(catalogue, text):
    sessions, _ = catalogue
    run(sessions, text=text)       # no exception; words inside are searched as words
    assert run(sessions, text="budget").total == 4


def test_bad_queries_say_what_to_change():
    with pytest.raises(QueryError, match="sort must be one of"):
        SearchQuery(sort="random")
    with pytest.raises(QueryError, match="per_page"):
        SearchQuery(per_page=1000)
    with pytest.raises(QueryError, match="before"):
        SearchQuery(since=T0, until=T0)

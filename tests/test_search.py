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


def test_reindexing_a_changed_capture_finds_its_new_words_only(catalogue):
    sessions, ids = catalogue
    with transaction(sessions) as session:
        capture = session.get(Capture, ids[1])
        capture.text = "Astronomers counted the moons of the planet."
        session.flush()
        search_index_for(session).index(session, capture.id)
        search_index_for(session).index(session, capture.id)        # twice: still one entry
    assert run(sessions, text="comet").total == 1                   # still in the title
    assert run(sessions, text="telescopes").total == 0
    assert urls(run(sessions, text="moons")) == [DOCS[1][0]]
    assert run(sessions, text="budget").total == 3


def test_index_all_makes_several_captures_findable_at_once(catalogue):
    sessions, ids = catalogue
    budget = run(sessions, text="budget").total
    added = []
    with transaction(sessions) as session:
        for n, state in enumerate(["stored", "stored", "queued"]):
            c = Capture(state=state, source="api", requested_url=f"https://many.example/{n}",
                        final_url=f"https://many.example/{n}", site="many.example", title=f"Lighthouse {n}",
                        text="The lighthouse keeper's log.", http_status=200, content_type="text/html",
                        queued_at=T0, fetched_at=T0 + timedelta(days=10 + n), attempts=1)
            session.add(c)
            session.flush()
            added.append(c.id)
        # one already indexed, one twice in the list, one not stored: each stored one once
        search_index_for(session).index_all(session, [added[1], *added, ids[0], added[0]])
    found = run(sessions, text="lighthouse")
    assert sorted(h.capture_id for h in found.hits) == added[:2] and found.total == 2
    assert run(sessions, text="budget").total == budget       # the one indexed before, once


def test_a_capture_no_longer_stored_or_deleted_is_not_found(catalogue):
    sessions, ids = catalogue
    with transaction(sessions) as session:
        session.get(Capture, ids[1]).state = "failed"
        session.flush()
        search_index_for(session).index(session, ids[1])
        session.delete(session.get(Capture, ids[2]))
    assert run(sessions, text="budget").total == 2
    assert set(urls(run(sessions, text="budget"))) == {DOCS[0][0], DOCS[3][0]}
    assert run(sessions, text="comet").total == 0


def _fts_integrity_check(session) -> None:
    """FTS5 raises if its index differs from what the content rows would give."""
    from sqlalchemy import text
    session.execute(text("INSERT INTO capture_fts (capture_fts, rank) VALUES ('integrity-check', 1)"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_index_stays_consistent_with_the_captures(catalogue):
    sessions, ids = catalogue
    with transaction(sessions) as session:
        _fts_integrity_check(session)
        capture = session.get(Capture, ids[0])
        capture.title, capture.final_url, capture.http_status = "Budget revised", "https://news.example/b2", 201
        session.flush()
        _fts_integrity_check(session)      # the trigger took the old values out
        search_index_for(session).index(session, capture.id)
        session.delete(session.get(Capture, ids[3]))
        session.flush()
        _fts_integrity_check(session)
    assert urls(run(sessions, text="budget", status=201)) == ["https://news.example/b2"]
    assert run(sessions, text="politics").total == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_migration_0012_converts_the_index_and_back(database_url):
    from alembic import command
    from sqlalchemy import text
    from archiver.db import alembic_config
    cfg = alembic_config(database_url)
    command.upgrade(cfg, "0011")
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:       # captures indexed the way revision 0011 did
        for n, (url, title, body, status, ctype, days, state) in enumerate(DOCS, 1):
            session.execute(text(
                "INSERT INTO captures (id, state, source, requested_url, final_url, site, title, text, "
                "http_status, content_type, queued_at, fetched_at, attempts) VALUES (:id, :state, 'api', "
                ":url, :url, :site, :title, :text, :status, :ctype, :queued, :fetched, 1)"),
                {"id": n, "state": state, "url": url, "site": site_of(url), "title": title, "text": body,
                 "status": status, "ctype": ctype, "queued": T0.replace(tzinfo=None),
                 "fetched": (T0 + timedelta(days=days)).replace(tzinfo=None)})
            if state == "stored":
                session.execute(text(
                    "INSERT INTO capture_fts (rowid, title, url, text, facets) "
                    "VALUES (:id, :title, :url, :text, '')"),
                    {"id": n, "title": title or "", "url": url, "text": body or ""})
    command.upgrade(cfg, "head")
    assert set(urls(run(sessions, text="budget"))) == {d[0] for d in DOCS[:4]}
    assert set(urls(run(sessions, text="budget", site="news.example"))) == {DOCS[0][0], DOCS[1][0]}
    with transaction(sessions) as session:
        _fts_integrity_check(session)
    command.downgrade(cfg, "0011")
    with sessions() as session:
        assert session.execute(text(
            "SELECT count(*) FROM capture_fts WHERE capture_fts MATCH 'budget'")).scalar_one() == 4
        assert session.execute(text("SELECT title FROM capture_fts WHERE rowid = 5")).scalar_one() == ""
    command.upgrade(cfg, "head")
    assert urls(run(sessions, text="comet")) == [DOCS[1][0]]
    engine.dispose()

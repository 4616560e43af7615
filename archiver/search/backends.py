"""Full-text search over the catalogue: SQLite FTS5 and PostgreSQL tsvector, one interface.

Both index the title, the URL (split into words) and the text, language-neutral (no
stemming: the archive holds every language), and search stored captures only.
"""
from __future__ import annotations

from typing import Protocol

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from archiver.search.facets import capture_facets, facet_expression, media_type
from archiver.search.query import MARK_END, MARK_START, SearchHit, SearchPage, SearchQuery

SNIPPET_FALLBACK_CHARS = 240
# Counting every match of a very common word costs more than finding the best ones:
# beyond this many, the total is given as "at least".
COUNT_LIMIT = 10_000
# Above this many matches, "newest first" walks the date index instead of sorting matches.
DATE_SCAN_THRESHOLD = 2_000
HIT_COLUMNS = ("c.id, coalesce(c.final_url, c.requested_url) AS url, c.title, c.fetched_at, "
               "c.http_status, c.content_type, c.change")


class SearchIndex(Protocol):
    def index(self, session: Session, capture_id: int) -> None:
        """Make a stored capture findable (call in the transaction that stores it)."""

    def index_all(self, session: Session, capture_ids: list[int]) -> None:
        """index() of each, in fewer statements."""

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        ...


def search_index_for(engine_or_session) -> SearchIndex:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    name = bind.dialect.name
    if name == "sqlite":
        return SQLiteSearch()
    if name == "postgresql":
        return PostgresSearch()
    raise ValueError(f"no full-text search for the {name} dialect")


def _filters(query: SearchQuery) -> tuple[list[str], dict]:
    clauses, params = ["c.state = 'stored'"], {}
    if query.site:
        site = query.site.lower().strip().rstrip(".")
        clauses.append("(c.site = :site OR c.site LIKE :site_suffix)")
        params.update(site=site, site_suffix=f"%.{site}")
    if query.since:
        clauses.append("c.fetched_at >= :since")
        params["since"] = query.since
    if query.until:
        clauses.append("c.fetched_at < :until")
        params["until"] = query.until
    if query.status is not None:
        clauses.append("c.http_status = :status")
        params["status"] = query.status
    if query.content_type:
        # the media type itself ("text/html") or its top-level type ("text")
        clauses.append("(lower(c.content_type) = :ctype OR lower(c.content_type) LIKE :ctype_params "
                       "OR lower(c.content_type) LIKE :ctype_sub)")
        wanted = (media_type(query.content_type) or "").replace("%", "").replace("_", "")
        params.update(ctype=wanted, ctype_params=f"{wanted};%", ctype_sub=f"{wanted}/%")
    return clauses, params


def _as_utc(value):
    """Raw SQL on SQLite returns the stored text; make it an aware UTC datetime."""
    from datetime import datetime, timezone
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _bind_times(session: Session, params: dict) -> dict:
    """SQLite keeps naive UTC strings: compare like with like."""
    if session.get_bind().dialect.name == "sqlite":
        for key in ("since", "until"):
            if params.get(key) is not None and params[key].tzinfo is not None:
                from datetime import timezone
                params[key] = params[key].astimezone(timezone.utc).replace(tzinfo=None)
    return params


def _hit(row, snippet: str | None, score: float | None) -> SearchHit:
    return SearchHit(capture_id=row.id, url=row.url, title=row.title,
                     captured_at=_as_utc(row.fetched_at),
                     http_status=row.http_status, content_type=row.content_type,
                     score=score, snippet=snippet or "", change=row.change)


def _count(session: Session, frm: str, where: str, params: dict) -> tuple[int, bool]:
    """(total, exact): stops counting at COUNT_LIMIT + 1."""
    total = session.execute(text(
        f"SELECT count(*) FROM (SELECT 1 {frm} WHERE {where} LIMIT {COUNT_LIMIT + 1}) AS m"),
        params).scalar_one()
    return min(total, COUNT_LIMIT), total <= COUNT_LIMIT


def _browse(session: Session, query: SearchQuery, clauses: list[str], params: dict) -> SearchPage:
    """No words given: the filtered captures, newest first."""
    where = " AND ".join(clauses)
    total, exact = _count(session, "FROM captures c", where, params)
    rows = session.execute(text(
        f"SELECT {HIT_COLUMNS}, substr(coalesce(c.text, ''), 1, {SNIPPET_FALLBACK_CHARS}) AS snip "
        f"FROM captures c WHERE {where} ORDER BY c.fetched_at DESC, c.id DESC "
        "LIMIT :limit OFFSET :offset"), {**params, "limit": query.per_page, "offset": query.offset})
    return SearchPage(query, total, [_hit(r, r.snip, None) for r in rows], exact)


# SQLiteSearch.index_all's statements, built once: it runs for every batch stored
_INDEX_STATE = text(
    "SELECT c.id, c.state, c.site, c.http_status, c.content_type, c.fetched_at, "
    "f.capture_id IS NOT NULL AS indexed FROM captures c "
    "LEFT JOIN capture_fts_facets f ON f.capture_id = c.id WHERE c.id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_ADD_FACETS = text("INSERT INTO capture_fts_facets (capture_id, facets) VALUES (:id, :facets)")
_ADD_TEXT = text(
    "INSERT INTO capture_fts (rowid, title, url, text, facets) "
    "SELECT id, title, url, text, facets FROM capture_fts_source WHERE id IN :ids ORDER BY id"
).bindparams(bindparam("ids", expanding=True))


class SQLiteSearch:
    """FTS5 table `capture_fts(title, url, text, facets)`; rowid = capture id.

    It holds exactly the stored captures, so a search without filters never touches the
    captures table until the page of hits is read; filters are facet tokens (facets.py).
    The table is external-content (migration 0012): the text is stored once, in captures,
    read back through the view `capture_fts_source` only for snippets. A capture is in the
    index when it has a row in `capture_fts_facets` (the facet tokens it was indexed with);
    triggers on captures take a capture out of the index when it is deleted or one of its
    indexed columns changes, because FTS5 can remove a row only given the values it indexed.
    """

    def index(self, session: Session, capture_id: int) -> None:
        self.index_all(session, [capture_id])

    def index_all(self, session: Session, capture_ids: list[int]) -> None:
        """Three statements for any number of captures (a batch stored together)."""
        ids = sorted(set(capture_ids))
        if not ids:
            return
        rows = session.execute(_INDEX_STATE, {"ids": ids}).all()
        # Already indexed means unchanged since: the triggers un-index a changed capture.
        facets = [{"id": row.id, "facets": capture_facets(row.site, row.http_status, row.content_type,
                                                          _as_utc(row.fetched_at))}
                  for row in rows if not row.indexed and row.state == "stored"]
        if not facets:
            return
        session.execute(_ADD_FACETS, facets)
        # INSERT ... SELECT: the text goes from the captures rows to the index inside SQLite.
        session.execute(_ADD_TEXT, {"ids": [f["id"] for f in facets]})

    @staticmethod
    def match_expression(query: SearchQuery) -> tuple[str, bool]:
        """The FTS5 query, and whether rows need an exact check of the filters afterwards.

        Every word is quoted and confined to the text columns: user input never reaches
        FTS5's query syntax and never matches a facet token.
        """
        words = " ".join(f'"{w}"' for w, _ in query.terms())
        facets, recheck = facet_expression(query)
        parts = ([f"{{title url text}} : ({words})"] if words else []) + ([facets] if facets else [])
        return " AND ".join(parts), recheck

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        clauses, params = _filters(query)
        params = _bind_times(session, params)
        match, recheck = self.match_expression(query)
        if not match:
            return _browse(session, query, clauses, params)
        params["match"] = match
        page = {"limit": query.per_page, "offset": query.offset}
        if recheck:
            # CROSS JOIN keeps the full-text index as the outer loop.
            frm = "FROM capture_fts CROSS JOIN captures c ON c.id = capture_fts.rowid"
            where = " AND ".join(["capture_fts MATCH :match"] + clauses)
            total, exact = _count(session, frm, where, params)
        else:
            frm, where = "FROM capture_fts", "capture_fts MATCH :match"
            total, exact = _count(session, frm, where, params)
        if query.sort == "date" and total > DATE_SCAN_THRESHOLD:
            # Many matches: walk the captures newest first and keep the matching ones.
            ranked = session.execute(text(
                "SELECT c.id, NULL AS rank FROM captures c INDEXED BY ix_captures_fetched_at "
                f"WHERE {' AND '.join(clauses)} AND c.id IN "
                "(SELECT rowid FROM capture_fts WHERE capture_fts MATCH :match) "
                "ORDER BY c.fetched_at DESC, c.id DESC LIMIT :limit OFFSET :offset"),
                {**params, **page}).all()
        elif query.sort == "date":
            ranked = session.execute(text(
                "SELECT c.id, NULL AS rank FROM capture_fts CROSS JOIN captures c "
                f"ON c.id = capture_fts.rowid WHERE capture_fts MATCH :match AND {' AND '.join(clauses)} "
                "ORDER BY c.fetched_at DESC, c.id DESC LIMIT :limit OFFSET :offset"),
                {**params, **page}).all()
        else:
            ranked = session.execute(text(
                f"SELECT capture_fts.rowid AS id, bm25(capture_fts, 10.0, 4.0, 1.0, 0.0) AS rank "
                f"{frm} WHERE {where} "
                "ORDER BY rank, capture_fts.rowid DESC LIMIT :limit OFFSET :offset"),
                {**params, **page}).all()
        if not ranked:
            return SearchPage(query, total, [], exact)
        # Snippets only for the page shown: SQLite would compute them for every match.
        ids = {row.id: row.rank for row in ranked}
        id_list = ", ".join(str(int(i)) for i in ids)
        rows = session.execute(text(
            f"SELECT {HIT_COLUMNS}, snippet(capture_fts, 2, :ms, :me, '…', 24) AS snip "
            "FROM capture_fts CROSS JOIN captures c ON c.id = capture_fts.rowid "
            f"WHERE capture_fts MATCH :match AND capture_fts.rowid IN ({id_list})"),
            {"match": match, "ms": MARK_START, "me": MARK_END})
        by_id = {r.id: r for r in rows}
        return SearchPage(query, total, [
            _hit(by_id[i], by_id[i].snip, None if rank is None else -rank)
            for i, rank in ids.items() if i in by_id], exact)


class PostgresSearch:
    """A generated, weighted `search_document` tsvector column with a GIN index."""

    def index(self, session: Session, capture_id: int) -> None:
        pass  # the generated column follows the row by itself

    def index_all(self, session: Session, capture_ids: list[int]) -> None:
        pass

    @staticmethod
    def tsquery_sql(query: SearchQuery) -> tuple[str, dict]:
        parts, params = [], {}
        for n, (words, _phrase) in enumerate(query.terms()):
            parts.append(f"phraseto_tsquery('simple', :t{n})")
            params[f"t{n}"] = words
        return " && ".join(parts), params

    def search(self, session: Session, query: SearchQuery) -> SearchPage:
        clauses, params = _filters(query)
        tsq, tparams = self.tsquery_sql(query)
        if not tsq:
            return _browse(session, query, clauses, params)
        params.update(tparams)
        where = " AND ".join(["c.search_document @@ q.query"] + clauses)
        frm = f"FROM captures c, (SELECT {tsq} AS query) q"
        total, exact = _count(session, frm, where, params)
        order = ("rank DESC, c.id DESC" if query.sort == "relevance"
                 else "c.fetched_at DESC, c.id DESC")
        rows = session.execute(text(
            f"SELECT {HIT_COLUMNS}, ts_rank_cd(c.search_document, q.query) AS rank, "
            "ts_headline('simple', left(coalesce(c.text, ''), 100000), q.query, :opts) AS snip "
            f"{frm} WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"),
            {**params, "limit": query.per_page, "offset": query.offset,
             "opts": f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=35, MinWords=15"})
        return SearchPage(query, total, [_hit(r, r.snip, float(r.rank)) for r in rows], exact)

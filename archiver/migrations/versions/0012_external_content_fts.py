"""external_content_fts: the SQLite full-text index reads the text from captures (stored once)

Revision ID: 0012
Revises: 0011

Until now `capture_fts` kept its own copy of every capture's title, URL and text: the text
was stored twice and written twice in each capture's transaction. It becomes an
external-content FTS5 table over the view `capture_fts_source`, which joins captures with
`capture_fts_facets` (the facet tokens each indexed capture was indexed with, one row per
capture in the index). FTS5 can remove a row only given the values it indexed, so triggers
take a capture out of the index when it is deleted or one of its indexed columns changes
(archiver/search/backends.py, SQLiteSearch). PostgreSQL's generated tsvector is unchanged.

A later migration that recreates `captures` on SQLite (alembic batch mode with a copy)
drops these triggers with the old table: it must create them again (TRIGGERS below).
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TOKENIZE = "tokenize = 'unicode61 remove_diacritics 2'"
# Merging eight segments of a level at a time instead of FTS5's four rewrites each
# capture's postings fewer times (log8 instead of log4 of the index size): less CPU per
# indexed capture, a few more segments per search term (docs/research.md, Benchmark).
AUTOMERGE = 8

SOURCE_VIEW = """
    CREATE VIEW capture_fts_source AS
    SELECT c.id AS id, c.title AS title, coalesce(c.final_url, c.requested_url) AS url,
           c.text AS text, f.facets AS facets
    FROM capture_fts_facets f JOIN captures c ON c.id = f.capture_id
"""

_FORGET_OLD_ROW = """
    INSERT INTO capture_fts (capture_fts, rowid, title, url, text, facets)
    VALUES ('delete', OLD.id, OLD.title, coalesce(OLD.final_url, OLD.requested_url), OLD.text,
            (SELECT facets FROM capture_fts_facets WHERE capture_id = OLD.id));
    DELETE FROM capture_fts_facets WHERE capture_id = OLD.id;
"""
_INDEXED = "EXISTS (SELECT 1 FROM capture_fts_facets WHERE capture_id = OLD.id)"
_FACET_COLUMNS = ("site", "http_status", "content_type", "fetched_at", "state")
_CHANGED = " OR ".join(
    [f"OLD.{c} IS NOT NEW.{c}" for c in ("title", "text") + _FACET_COLUMNS]
    + ["coalesce(OLD.final_url, OLD.requested_url) IS NOT coalesce(NEW.final_url, NEW.requested_url)"])
TRIGGERS = {
    "capture_fts_forget_deleted": f"""
        CREATE TRIGGER capture_fts_forget_deleted AFTER DELETE ON captures
        WHEN {_INDEXED}
        BEGIN {_FORGET_OLD_ROW} END""",
    "capture_fts_forget_changed": f"""
        CREATE TRIGGER capture_fts_forget_changed
        AFTER UPDATE OF title, text, final_url, requested_url, {', '.join(_FACET_COLUMNS)} ON captures
        WHEN {_INDEXED} AND ({_CHANGED})
        BEGIN {_FORGET_OLD_ROW} END""",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE capture_fts")
    op.execute("CREATE TABLE capture_fts_facets (capture_id INTEGER PRIMARY KEY, facets TEXT NOT NULL)")
    _fill_facets(op.get_bind())
    op.execute(SOURCE_VIEW)
    op.execute("CREATE VIRTUAL TABLE capture_fts USING fts5(title, url, text, facets, "
               f"content = 'capture_fts_source', content_rowid = 'id', {TOKENIZE})")
    op.execute(f"INSERT INTO capture_fts (capture_fts, rank) VALUES ('automerge', {AUTOMERGE})")
    op.execute("INSERT INTO capture_fts (capture_fts) VALUES ('rebuild')")
    op.execute("INSERT INTO capture_fts (capture_fts) VALUES ('optimize')")
    for ddl in TRIGGERS.values():
        op.execute(ddl)


def _fill_facets(bind) -> None:
    """Every stored capture is indexed, with the tokens the application derives."""
    from archiver.search.facets import capture_facets
    rows = bind.execute(sa.text(
        "SELECT id, site, http_status, content_type, fetched_at FROM captures WHERE state = 'stored'"))
    batch = []
    for capture_id, site, status, ctype, fetched_at in rows:
        if isinstance(fetched_at, str):      # SQLite hands back the stored text
            fetched_at = datetime.fromisoformat(fetched_at)
        batch.append({"id": capture_id, "facets": capture_facets(site, status, ctype, fetched_at)})
    if batch:
        bind.execute(sa.text("INSERT INTO capture_fts_facets (capture_id, facets) VALUES (:id, :facets)"),
                     batch)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE capture_fts")
    op.execute(f"CREATE VIRTUAL TABLE capture_fts USING fts5(title, url, text, facets, {TOKENIZE})")
    # as revision 0002's index() wrote them: empty strings for a missing title or text
    op.execute("INSERT INTO capture_fts (rowid, title, url, text, facets) "
               "SELECT id, coalesce(title, ''), url, coalesce(text, ''), facets FROM capture_fts_source")
    op.execute("DROP VIEW capture_fts_source")
    op.execute("DROP TABLE capture_fts_facets")

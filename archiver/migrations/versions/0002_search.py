"""full-text search: a site column, and an FTS5 table (SQLite) or a tsvector column (PostgreSQL)

Revision ID: 0002
Revises: 0001
"""
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Weighted: title A, URL words B, text C. The text is cut at 500,000 characters because a
# tsvector may not exceed 1 MB.
PG_DOCUMENT = """
    setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') ||
    setweight(to_tsvector('simple'::regconfig,
        regexp_replace(coalesce(final_url, requested_url), '[^[:alnum:]]+', ' ', 'g')), 'B') ||
    setweight(to_tsvector('simple'::regconfig, left(coalesce(text, ''), 500000)), 'C')
"""


def upgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("site", sa.String(255), nullable=True))
        batch.create_index("ix_captures_site", ["site"])
        batch.create_index("ix_captures_fetched_at", ["fetched_at"])
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, coalesce(final_url, requested_url) FROM captures")).all()
    for capture_id, url in rows:
        host = (urlsplit(url).hostname or "").rstrip(".").lower() or None
        bind.execute(sa.text("UPDATE captures SET site = :s WHERE id = :i"), {"s": host, "i": capture_id})
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE capture_fts USING fts5("
                   "title, url, text, facets, tokenize = 'unicode61 remove_diacritics 2')")
        _index_stored_captures(bind)
    elif bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE captures ADD COLUMN search_document tsvector "
                   f"GENERATED ALWAYS AS ({PG_DOCUMENT}) STORED")
        op.execute("CREATE INDEX ix_captures_search ON captures USING gin (search_document)")


def _index_stored_captures(bind) -> None:
    """As this revision's index() did (today's SQLiteSearch expects revision 0012's tables)."""
    from datetime import datetime
    from archiver.search.facets import capture_facets
    rows = bind.execute(sa.text(
        "SELECT id, title, coalesce(final_url, requested_url), text, site, http_status, content_type, "
        "fetched_at FROM captures WHERE state = 'stored'")).all()
    for capture_id, title, url, body, site, status, ctype, fetched_at in rows:
        if isinstance(fetched_at, str):
            fetched_at = datetime.fromisoformat(fetched_at)
        bind.execute(sa.text("INSERT INTO capture_fts (rowid, title, url, text, facets) "
                             "VALUES (:id, :title, :url, :text, :facets)"),
                     {"id": capture_id, "title": title or "", "url": url, "text": body or "",
                      "facets": capture_facets(site, status, ctype, fetched_at)})


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE capture_fts")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_captures_search")
        op.execute("ALTER TABLE captures DROP COLUMN search_document")
    with op.batch_alter_table("captures") as batch:
        batch.drop_index("ix_captures_fetched_at")
        batch.drop_index("ix_captures_site")
        batch.drop_column("site")

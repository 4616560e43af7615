"""record_target_index: find a URL's records without a scan (raw replay, archiver/replay/raw.py)

Revision ID: 0011
Revises: 0010

A hash index on PostgreSQL: a URL can be longer than a B-tree entry may be (about 2.7 KB),
and only equality is asked. SQLite has no hash index and no such limit: a plain one.
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_capture_records_target_uri", "capture_records", ["target_uri"],
                    postgresql_using="hash")


def downgrade() -> None:
    op.drop_index("ix_capture_records_target_uri", table_name="capture_records")

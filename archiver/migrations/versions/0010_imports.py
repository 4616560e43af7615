"""imports: WARCs brought in from other tools; captures.imported holds each capture's import facts

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("imported_by", sa.String(255)),
        sa.Column("note", sa.Text()),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_size", sa.BigInteger()),
        sa.Column("source_sha256", sa.String(64), index=True),
        sa.Column("upload_key", sa.String(512)),
        sa.Column("progress", sa.JSON()),
        sa.Column("warc_file_id", sa.Integer(), sa.ForeignKey("warc_files.id")),
        sa.Column("captures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("problems", sa.JSON()),
        sa.Column("capture_ids", sa.JSON()),
        sa.Column("message", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("imported", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("imported")
    op.drop_table("imports")

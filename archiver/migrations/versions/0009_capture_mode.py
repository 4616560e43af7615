"""capture_mode: how each capture (and each watch) fetches its page, and what the browser did

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        # every capture before this one was a plain fetch
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="plain"))
        # a browser capture's provenance: browser, version, viewport, requests blocked...
        batch.add_column(sa.Column("browser", sa.JSON()))
    with op.batch_alter_table("watches") as batch:
        # None: the default mode (ARCHIVER_CAPTURE_MODE) at each run
        batch.add_column(sa.Column("mode", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("mode")
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("browser")
        batch.drop_column("mode")

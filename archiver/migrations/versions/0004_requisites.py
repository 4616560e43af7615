"""requisites: what a capture fetched besides the page, and which records are theirs

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("requisites", sa.JSON()))
    with op.batch_alter_table("capture_records") as batch:
        # existing rows are all the page's own records
        batch.add_column(sa.Column("requisite", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("capture_records") as batch:
        batch.drop_column("requisite")
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("requisites")

"""reconcile: when a capture's task was last sent to the broker

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_column("sent_at")

"""ledger: the append-only evidence log and its signed tree heads

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("capture_id", sa.Integer()),
        sa.Column("agent", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_index("ix_ledger_entries_event", "ledger_entries", ["event"])
    op.create_index("ix_ledger_entries_capture_id", "ledger_entries", ["capture_id"])
    op.create_table(
        "ledger_heads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    op.create_index("ix_ledger_heads_size", "ledger_heads", ["size"])


def downgrade() -> None:
    op.drop_table("ledger_heads")
    op.drop_table("ledger_entries")

"""watches, claimed schedule slots, webhook deliveries; change marks on captures

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("owner", sa.String(255)),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("respect_robots", sa.Boolean(), nullable=False),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("webhook_secret", sa.String(128)),
        sa.Column("next_run_at", TIME),
        sa.Column("last_run_at", TIME),
        sa.Column("last_capture_id", sa.Integer()),
        sa.Column("last_result", sa.String(16)),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_reason", sa.Text()),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("ix_watches_next_run_at", "watches", ["next_run_at"])
    op.create_table(
        "watch_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("watch_id", sa.Integer(), sa.ForeignKey("watches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("slot", TIME, nullable=False),
        sa.Column("capture_id", sa.Integer()),
        sa.Column("claimed_at", TIME, nullable=False),
        sa.Column("dispatcher", sa.String(255)),
        sa.Column("result", sa.String(16)),
        sa.Column("detail", sa.Text()),
        sa.Column("finished_at", TIME),
        sa.UniqueConstraint("watch_id", "slot", name="uq_watch_runs_watch_slot"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("watch_id", sa.Integer(), sa.ForeignKey("watches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME),
        sa.Column("attempt_log", sa.JSON()),
    )
    op.create_index("ix_webhook_deliveries_watch_id", "webhook_deliveries", ["watch_id"])
    with op.batch_alter_table("captures") as batch:
        batch.add_column(sa.Column("change", sa.String(16)))
        batch.add_column(sa.Column("previous_id", sa.Integer()))
        batch.add_column(sa.Column("revisit_of", sa.Integer()))
        batch.add_column(sa.Column("watch_id", sa.Integer()))
        batch.create_index("ix_captures_watch_id", ["watch_id"])
        batch.create_index("ix_captures_final_url", ["final_url"])
        batch.create_index("ix_captures_change_fetched_at", ["change", "fetched_at"])
        batch.create_foreign_key("fk_captures_watch_id", "watches", ["watch_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_constraint("fk_captures_watch_id", type_="foreignkey")
        batch.drop_index("ix_captures_change_fetched_at")
        batch.drop_index("ix_captures_final_url")
        batch.drop_index("ix_captures_watch_id")
        for column in ("watch_id", "revisit_of", "previous_id", "change"):
            batch.drop_column(column)
    op.drop_index("ix_webhook_deliveries_watch_id", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("watch_runs")
    op.drop_index("ix_watches_next_run_at", "watches")
    op.drop_table("watches")

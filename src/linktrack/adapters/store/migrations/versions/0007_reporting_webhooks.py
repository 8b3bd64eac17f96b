"""Reporting webhooks and their outbox of events.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-04

A branch beside 0006 (segments); `migrate()` upgrades every head.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reporting_webhooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("signing_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reporting_webhooks"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_reporting_webhooks_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_reporting_webhooks_workspace_id", "reporting_webhooks", ["workspace_id"])
    op.create_table(
        "webhook_events",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(96), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("done_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["reporting_webhooks.id"],
            name="fk_webhook_events_webhook_id_reporting_webhooks",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_events_webhook_id_event_id"),
    )
    op.create_index(
        "ix_webhook_events_webhook_id_status_id", "webhook_events", ["webhook_id", "status", "id"]
    )


def downgrade() -> None:
    op.drop_table("webhook_events")
    op.drop_table("reporting_webhooks")

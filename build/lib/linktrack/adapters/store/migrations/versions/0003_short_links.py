"""Channels: short links (SMS/WhatsApp link shortening) and SDK-reported conversions.

Revision ID: 0003
Revises: 0001
Create Date: 2025-01-03

A branch beside 0002 (message kinds); `migrate()` upgrades every head.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_links",
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("expired_hits", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("code", name="pk_short_links"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_short_links_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_short_links_workspace_id", "short_links", ["workspace_id"])
    op.create_index("ix_short_links_expires_at", "short_links", ["expires_at"])
    op.create_table(
        "conversions",
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", name="pk_conversions"),
    )
    op.create_index("ix_conversions_message_id", "conversions", ["message_id"])


def downgrade() -> None:
    op.drop_table("conversions")
    op.drop_table("short_links")

"""Message kinds: campaign/broadcast/newsletter containers and their send jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

A branch beside 0003 (channels); `migrate()` upgrades every head. The actions
(newsletter contents) are `messages` rows with `parent_id` = the container id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "containers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_containers"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_containers_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_containers_workspace_id_kind", "containers", ["workspace_id", "kind"])
    op.create_table(
        "send_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _count("total"),
        _count("sent"),
        _count("failed"),
        _count("skipped"),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_send_jobs"),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name="fk_send_jobs_container_id_containers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_send_jobs_container_id", "send_jobs", ["container_id"])


def downgrade() -> None:
    op.drop_index("ix_send_jobs_container_id", table_name="send_jobs")
    op.drop_table("send_jobs")
    op.drop_index("ix_containers_workspace_id_kind", table_name="containers")
    op.drop_table("containers")

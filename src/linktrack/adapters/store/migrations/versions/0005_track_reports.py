"""Track API reports, devices, suppressions and scheduled deliveries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

`conversions` becomes `delivery_reports` (one row per delivery and metric:
converted, bounced, spammed, dropped, deferred); its rows are kept as
`converted` reports. People gain push `devices` and suppressed identifiers;
a delivery gains `send_at` and the `scheduled` status (counted per message).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.id"], name=f"fk_{table}_{column}_{parent}", ondelete="CASCADE"
    )


def _reports() -> None:
    op.create_table(
        "delivery_reports",
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "metric", name="pk_delivery_reports"),
    )
    op.create_index(
        "ix_delivery_reports_message_id_metric", "delivery_reports", ["message_id", "metric"]
    )
    op.execute(
        "INSERT INTO delivery_reports"
        " (delivery_id, metric, workspace_id, message_id, person_id, ts, reason, source)"
        " SELECT delivery_id, 'converted', workspace_id, message_id, person_id, ts, NULL, source"
        " FROM conversions"
    )
    op.drop_table("conversions")


def _people() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(255), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("last_used", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        _fk("devices", "workspace_id", "workspaces"),
        _fk("devices", "person_id", "people"),
        sa.UniqueConstraint("workspace_id", "token", name="uq_devices_workspace_id_token"),
    )
    op.create_index("ix_devices_person_id_last_used", "devices", ["person_id", "last_used"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        _fk("suppressions", "workspace_id", "workspaces"),
        sa.UniqueConstraint(
            "workspace_id", "kind", "value", name="uq_suppressions_workspace_id_kind_value"
        ),
    )
    op.create_index("ix_suppressions_batch", "suppressions", ["batch"])


def upgrade() -> None:
    _reports()
    _people()
    op.add_column("deliveries", sa.Column("send_at", sa.Double(), nullable=True))
    op.create_index("ix_deliveries_status_send_at", "deliveries", ["status", "send_at"])
    op.add_column(
        "message_stats",
        sa.Column("status_scheduled", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("message_stats") as batch:
        batch.drop_column("status_scheduled")
    op.drop_index("ix_deliveries_status_send_at", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("send_at")
    op.drop_table("suppressions")
    op.drop_table("devices")
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
    op.execute(
        "INSERT INTO conversions (delivery_id, workspace_id, message_id, person_id, ts, source)"
        " SELECT delivery_id, workspace_id, message_id, person_id, ts, source"
        " FROM delivery_reports WHERE metric = 'converted'"
    )
    op.drop_table("delivery_reports")

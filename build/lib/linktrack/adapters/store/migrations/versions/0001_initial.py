"""Initial schema: workspaces, people, messages, links, deliveries, events, rollups.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types in schema.py: a migration must not change when
# schema.py evolves.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def _fk_workspace(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=f"fk_{table}_workspace_id_workspaces",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("site_id", sa.String(32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
        sa.UniqueConstraint("site_id", name="uq_workspaces_site_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        _fk_workspace("api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_workspace_id", "api_keys", ["workspace_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        _ts("created_at"),
        _ts("retired_at", nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
        _fk_workspace("signing_keys"),
    )
    op.create_index("ix_signing_keys_workspace_id", "signing_keys", ["workspace_id"])
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("cio_id", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("unsubscribed", sa.Boolean(), nullable=False, server_default=sa.false()),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        _fk_workspace("people"),
        sa.UniqueConstraint("cio_id", name="uq_people_cio_id"),
        sa.UniqueConstraint(
            "workspace_id", "external_id", name="uq_people_workspace_id_external_id"
        ),
        sa.UniqueConstraint("workspace_id", "email", name="uq_people_workspace_id_email"),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_plain", sa.Text(), nullable=False),
        sa.Column("from_addr", sa.String(320), nullable=False),
        sa.Column("tracked", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        _fk_workspace("messages"),
    )
    op.create_index("ix_messages_workspace_id_kind", "messages", ["workspace_id", "kind"])
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("href", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(255), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_links"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_links_message_id_messages", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("message_id", "key_hash", name="uq_links_message_id_key_hash"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_plain", sa.Text(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("link_ids", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        _ts("opened_at", nullable=True),
        _ts("clicked_at", nullable=True),
        _ts("human_clicked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        _fk_workspace("deliveries"),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name="fk_deliveries_message_id_messages",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name="fk_deliveries_person_id_people", ondelete="SET NULL"
        ),
    )
    op.create_index(
        "ix_deliveries_message_id_created_at", "deliveries", ["message_id", "created_at"]
    )
    op.create_index("ix_deliveries_person_id_created_at", "deliveries", ["person_id", "created_at"])
    op.create_index(
        "ix_deliveries_workspace_id_status_created_at",
        "deliveries",
        ["workspace_id", "status", "created_at"],
    )
    op.create_table(
        "clicks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(80), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("href", sa.Text(), nullable=False),
        _ts("ts"),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("machine_reasons", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clicks"),
        sa.UniqueConstraint("event_id", name="uq_clicks_event_id"),
    )
    for cols in (
        ["delivery_id", "ts"],
        ["message_id", "ts"],
        ["workspace_id", "ts"],
        ["person_id", "ts"],
    ):
        op.create_index(f"ix_clicks_{'_'.join(cols)}", "clicks", cols)
    op.create_table(
        "opens",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(80), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        _ts("ts"),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("machine", sa.Boolean(), nullable=False),
        sa.Column("machine_reasons", sa.JSON(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_opens"),
        sa.UniqueConstraint("event_id", name="uq_opens_event_id"),
    )
    for cols in (["delivery_id", "ts"], ["message_id", "ts"], ["person_id", "ts"]):
        op.create_index(f"ix_opens_{'_'.join(cols)}", "opens", cols)
    op.create_table(
        "link_stats",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        _count("clicks_total"),
        _count("clicks_human"),
        _count("uniques_total"),
        _count("uniques_human"),
        sa.PrimaryKeyConstraint("message_id", "link_id", name="pk_link_stats"),
    )
    op.create_table(
        "link_buckets",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        _count("clicks"),
        _count("human_clicks"),
        _count("uniques"),
        _count("human_uniques"),
        _count("machine_uniques"),
        sa.PrimaryKeyConstraint("message_id", "bucket_start", "link_id", name="pk_link_buckets"),
    )
    op.create_table(
        "delivery_links",
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        _ts("first_ts"),
        _ts("first_human_ts", nullable=True),
        _ts("first_machine_ts", nullable=True),
        sa.PrimaryKeyConstraint("delivery_id", "link_id", name="pk_delivery_links"),
    )
    op.create_index(
        "ix_delivery_links_link_id_person_id_first_human_ts",
        "delivery_links",
        ["link_id", "person_id", "first_human_ts"],
    )
    op.create_table(
        "message_stats",
        sa.Column("message_id", sa.Integer(), nullable=False),
        _count("status_queued"),
        _count("status_sent"),
        _count("status_failed"),
        _count("status_outbox"),
        _count("opened"),
        _count("clicked"),
        _count("human_clicked"),
        sa.PrimaryKeyConstraint("message_id", name="pk_message_stats"),
    )
    op.create_table(
        "consumer_offsets",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("position", sa.String(128), nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("consumer", name="pk_consumer_offsets"),
    )


def downgrade() -> None:
    for table in (
        "consumer_offsets",
        "message_stats",
        "delivery_links",
        "link_buckets",
        "link_stats",
        "opens",
        "clicks",
        "deliveries",
        "links",
        "messages",
        "people",
        "signing_keys",
        "api_keys",
        "workspaces",
    ):
        op.drop_table(table)

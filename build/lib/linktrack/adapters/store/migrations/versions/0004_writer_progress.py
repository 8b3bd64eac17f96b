"""Writer progress: how far behind the click log each consumer is, and when it last said so.

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-12-02

Merges the two branches (message kinds, channels) into one head.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = ("0002", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("lag_seconds", "events_per_second", "heartbeat_at")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("consumer_offsets", sa.Column(name, sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consumer_offsets") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)

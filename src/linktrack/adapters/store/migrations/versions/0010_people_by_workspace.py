"""An index on people (workspace_id, id): the dashboard's People list, newest first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

Without it the list read every person of the workspace and sorted them (206 ms for
100,000 people in benchmarks/ui_bench.py on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_people_workspace_id_id", "people", ["workspace_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_people_workspace_id_id", table_name="people")

"""Merge the segments (0006) and reporting webhooks (0007) branches into one head.

Revision ID: 0008
Revises: 0006, 0007
Create Date: 2026-12-04

Nothing to change: one head again, so a store reports a single current revision.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | Sequence[str] | None = ("0006", "0007")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

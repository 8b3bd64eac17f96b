"""Segments: the people who clicked a link, read from the first-click index."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from linktrack.adapters.store.schema import delivery_links, links, messages, people


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def segment_clicked(
    conn: Connection,
    workspace_id: int,
    message_id: int | None,
    href_pattern: str,
    human_only: bool = True,
    *,
    limit: int = 1000,
    offset: int = 0,
) -> dict[str, Any]:
    """People who clicked a link whose URL matches `href_pattern` (`*` is a wildcard).

    A link matches by its reported href (the destination, or for a tag group or
    personalised link the representative one); case-insensitive. Returns
    `{"count": n, "people": [...]}` with up to `limit` members by id.
    """
    matching = (
        sa.select(links.c.id)
        .join(messages, messages.c.id == links.c.message_id)
        .where(
            messages.c.workspace_id == workspace_id,
            links.c.href.ilike(_like(href_pattern), escape="\\"),
        )
    )
    if message_id is not None:
        matching = matching.where(links.c.message_id == message_id)
    dl = delivery_links.c
    clickers = sa.select(dl.person_id).where(
        dl.link_id.in_(matching.scalar_subquery()), dl.person_id.is_not(None)
    )
    if human_only:
        clickers = clickers.where(dl.first_human_ts.is_not(None))
    # Distinct people straight from the (link, person) index: a person's
    # delivery_links rows carry their person id (people.delete_person clears it).
    distinct = clickers.group_by(dl.person_id)
    count = conn.execute(sa.select(sa.func.count()).select_from(distinct.subquery())).scalar_one()
    page = distinct.order_by(dl.person_id).limit(limit).offset(offset)
    rows = conn.execute(
        sa.select(people.c.id, people.c.cio_id, people.c.external_id, people.c.email)
        .where(people.c.id.in_(page.scalar_subquery()))
        .order_by(people.c.id)
    )
    return {
        "count": int(count),
        "people": [
            {"person_id": r.id, "cio_id": r.cio_id, "id": r.external_id, "email": r.email}
            for r in rows
        ],
    }

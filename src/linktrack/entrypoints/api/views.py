"""The JSON shape of everything the API answers with, one function per record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from linktrack.core.model import (
    Activity,
    Container,
    Delivery,
    Message,
    Person,
    SendJob,
    StoredSigningKey,
)
from linktrack.core.segments import Segment
from linktrack.core.settings import TrackingSettings


def person_view(p: Person) -> dict[str, Any]:
    """A person as Customer.io's customer object: identifiers, attributes, subscription."""
    return {
        "id": p.external_id,
        "email": p.email,
        "phone": p.phone,
        "cio_id": p.cio_id,
        "attributes": p.attributes,
        "unsubscribed": p.unsubscribed,
    }


def delivery_view(d: Delivery) -> dict[str, Any]:
    """A delivery: what was sent to whom, its status, and each link's first click."""
    return {
        "id": d.id,
        "delivery_id": d.id,
        "message_id": d.message_id,
        "channel": d.channel,
        "recipient": d.recipient,
        "subject": d.subject,
        "body": d.body,
        "body_plain": d.body_plain,
        "status": d.status,
        "error": d.error,
        "warnings": d.warnings,
        "settings": d.settings,
        "created_at": d.created_at,
        "send_at": d.send_at,
        "sent_at": d.sent_at,
        "opened_at": d.opened_at,
        "clicked_at": d.clicked_at,
        "links": [
            {
                "link_id": link.id,
                "href": link.href,
                "tag": link.tag,
                "first_clicked_at": link.first_clicked_at,
            }
            for link in d.links
        ],
    }


def activity_view(a: Activity) -> dict[str, Any]:
    """One entry of a person's activity feed; clicks and opens say if a machine made them."""
    entry: dict[str, Any] = {
        "type": a.type,
        "timestamp": a.ts,
        "delivery_id": a.delivery_id,
        "message_id": a.message_id,
        "message_name": a.message_name,
        "channel": a.channel,
    }
    if a.type == "clicked":
        entry.update(link_id=a.link_id, href=a.href)
    if a.type in ("clicked", "opened"):
        entry.update(machine=a.machine, machine_reasons=list(a.machine_reasons))
    if a.type == "opened":
        entry["synthetic"] = a.synthetic
    return entry


def content_view(m: Message) -> dict[str, Any]:
    """A message's content: a transactional message, or an action (content) of a campaign."""
    return {
        "id": m.id,
        "name": m.name,
        "channel": m.channel,
        "subject": m.subject,
        "body": m.body,
        "body_plain": m.body_plain,
        "from": m.from_addr,
        "tracked": m.tracked,
        "created_at": int(m.created_at),
    }


def container_view(c: Container, actions: Sequence[Message]) -> dict[str, Any]:
    """A campaign, broadcast or newsletter with its actions (a newsletter: contents)."""
    view: dict[str, Any] = {
        "id": c.id,
        "type": c.kind,
        "name": c.name,
        "created_at": int(c.created_at),
        **c.extra,
    }
    if c.kind == "newsletter":
        view["contents"] = [content_view(m) for m in actions]
        view["content_ids"] = [m.id for m in actions]
    else:
        view["actions"] = [content_view(m) for m in actions]
    return view


def job_view(job: SendJob, kind: str) -> dict[str, Any]:
    """A broadcast trigger or newsletter send and its progress, counted in people."""
    return {
        "id": job.id,
        f"{kind}_id": job.container_id,
        "status": job.status,
        "total": job.total,
        "sent": job.sent,
        "failed": job.failed,
        "skipped": job.skipped,
        "audience": job.audience,
        "errors": job.errors,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }


def settings_view(settings: TrackingSettings) -> dict[str, Any]:
    """The workspace settings, with warnings about risky ones."""
    return {**settings.to_dict(), "warnings": settings.warnings()}


def signing_key_view(k: StoredSigningKey) -> dict[str, Any]:
    """A signing key without its secret: when it was made and retired."""
    return {"kid": k.kid, "created_at": k.created_at, "retired_at": k.retired_at}


def segment_view(s: Segment) -> dict[str, Any]:
    """A segment in Customer.io's shape (always `dynamic`: members are read when asked)."""
    return {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "type": "dynamic",
        "state": "finished",
        "conditions": s.conditions,
        "created_at": int(s.created_at),
    }

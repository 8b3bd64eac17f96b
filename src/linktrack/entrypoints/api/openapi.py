"""The OpenAPI 3.1 document the app serves at /openapi.json.

Over 400 lines because the document is one concept: the schemas of request
bodies and every path that uses them, read together (the campaign, broadcast
and newsletter paths are built by `_container_paths` and `_job_paths`). A test
checks that every route the app serves is described here.
"""

from __future__ import annotations

from typing import Any, get_args

from linktrack.core.model import Channel

_ERROR = {
    "description": "What is wrong with the request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_JSON_OBJECT = {"type": "object", "additionalProperties": True}
_CHANNELS = list(get_args(Channel))


def _op(
    summary: str,
    *,
    security: str = "app",
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    ok: int = 200,
    response: dict[str, Any] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{security: []}] if security else [],
        "responses": {
            str(ok): {
                "description": "OK",
                "content": {content_type: {"schema": response or _JSON_OBJECT}},
            },
            "400": _ERROR,
            "401": _ERROR,
            "404": _ERROR,
        },
    }
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"]["413"] = _ERROR
        op["responses"]["422"] = _ERROR
    return op


def _path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _delivery_report(kind: str, **properties: Any) -> dict[str, Any]:
    """An app's report on a delivery, `kind` naming what happened (an SDK metric)."""
    return {
        "type": "object",
        "required": ["delivery_id", kind],
        "properties": {
            "delivery_id": {"type": "string"},
            kind: {"enum": ["opened", "clicked", "converted", "delivered"]},
            **properties,
        },
    }


_MESSAGE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "channel": {"enum": _CHANNELS},
        "subject": {"type": "string", "description": "Liquid"},
        "body": {"type": "string", "description": "Liquid; HTML for email"},
        "body_plain": {"type": "string", "description": "Liquid; the text part of an email"},
        "from": {"type": "string"},
        "tracked": {"type": "boolean", "default": True},
    },
    "additionalProperties": False,
}
_SEND = {
    "type": "object",
    "required": ["identifiers"],
    "properties": {
        "transactional_message_id": {"type": ["integer", "string"]},
        "to": {"type": "string"},
        "identifiers": {
            "type": "object",
            "description": "exactly one of id, email, cio_id",
            "properties": {
                "id": {"type": "string"},
                "email": {"type": "string"},
                "cio_id": {"type": "string"},
            },
            "minProperties": 1,
            "maxProperties": 1,
        },
        "message_data": {"type": "object", "description": "trigger.* in Liquid"},
        "subject": {"type": "string"},
        "body": {"type": "string"},
        "body_plain": {"type": "string"},
        "from": {"type": "string"},
        "tracked": {"type": "boolean", "default": True},
        "disable_message_retention": {"type": "boolean", "default": False},
        "send_to_unsubscribed": {"type": "boolean", "default": True},
        "title": {"type": "string", "description": "push: the subject"},
        "message": {"type": "string", "description": "push: the body"},
        "link": {"type": "string", "description": "push: tap target (Liquid; cio_link tracks)"},
        "image_url": {"type": "string", "description": "push"},
        "custom_data": {"type": "object", "description": "push: passed to the app"},
    },
}
_SDK_METRIC = _delivery_report(
    "metric",
    timestamp={
        "type": "number",
        "description": "Unix seconds; a retry with the same timestamp counts once",
    },
    href={"type": "string", "description": "clicked: the link tapped"},
    recipient={"type": "string", "description": "device token or address"},
)
_PUSH_EVENT = _delivery_report("event", device_id={"type": "string"}, timestamp={"type": "number"})
_SETTINGS = {
    "type": "object",
    "properties": {
        "tracking_domain": {"type": "string"},
        "tracking_https": {"type": "boolean"},
        "url_params": {"type": "object", "additionalProperties": {"type": "string"}},
        "add_cio_id": {"type": "boolean"},
        "open_tracking": {"type": "boolean"},
        "shorten_links": {"type": "boolean"},
        "short_domain": {"type": "string"},
    },
    "additionalProperties": False,
}
_SERIES = {
    "type": "object",
    "properties": {
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "link": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "href": {"type": "string"}},
                    },
                    "metric": {
                        "type": "object",
                        "properties": {
                            "series": {
                                "type": "object",
                                "properties": {
                                    k: {"type": "array", "items": {"type": "integer"}}
                                    for k in ("clicked", "human_clicked", "machine_clicked")
                                },
                            }
                        },
                    },
                },
            },
        }
    },
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_WRITER = {
    "type": "object",
    "required": ["writer"],
    "properties": {
        "writer": {
            "type": "object",
            "required": ["state", "consumer", "max_lag_seconds", "lag_seconds"],
            "properties": {
                "state": {"enum": ["ok", "behind", "stalled", "not_started"]},
                "consumer": {"type": "string"},
                "max_lag_seconds": {"type": "number"},
                "lag_seconds": _NUMBER_OR_NULL,
                "events_per_second": _NUMBER_OR_NULL,
                "heartbeat_at": _NUMBER_OR_NULL,
                "heartbeat_age_seconds": _NUMBER_OR_NULL,
            },
        }
    },
}
_TRACKED_PATH = [_path("payload"), _path("signature")]
_REDIRECTED = {"description": "Redirect (sent only once the click is durable)"}
_NOT_STORED = {"description": "The click could not be stored: retry (Retry-After)"}
_INVALID = {"description": "Invalid link"}
_REDIRECT_RESPONSES = {"302": _REDIRECTED, "404": _INVALID, "503": _NOT_STORED}
_SERIES_QUERY = [
    _query("period", {"enum": ["hours", "days", "weeks", "months"]}),
    _query("steps", {"type": "integer", "minimum": 1, "maximum": 1000}),
    _query("unique", {"type": "boolean"}),
]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "linktrack",
        "version": "0.1.0",
        "description": "Self-hosted link tracking for messages. App API: Bearer app key. "
        'Track API: Basic site_id:track_api_key. Errors: {"meta":{"error":"…"}}.',
    },
    "components": {
        "securitySchemes": {
            "app": {"type": "http", "scheme": "bearer"},
            "track": {"type": "http", "scheme": "basic"},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "properties": {
                    "meta": {"type": "object", "properties": {"error": {"type": "string"}}}
                },
            }
        },
    },
    "paths": {
        "/e/c/{payload}/{signature}": {
            "get": {
                "summary": "Follow a tracked link: 302 to its destination, click recorded",
                "parameters": _TRACKED_PATH,
                "responses": _REDIRECT_RESPONSES,
            },
            "head": {
                "summary": "As GET (scanners often use HEAD; recorded as a machine click)",
                "parameters": _TRACKED_PATH,
                "responses": _REDIRECT_RESPONSES,
            },
        },
        "/e/o/{payload}/{signature}": {
            "get": {
                "summary": "Open pixel: a 1x1 GIF, open recorded",
                "parameters": _TRACKED_PATH,
                "responses": {"200": {"description": "GIF"}, "404": {"description": "Invalid"}},
            }
        },
        "/lnk.{code}": {
            "get": {
                "summary": "Follow a short link (SMS/WhatsApp): as a tracked link",
                "parameters": [_path("code")],
                "responses": {
                    "302": _REDIRECTED,
                    "404": {"description": "Unknown code, or expired (after 90 days)"},
                    "503": _NOT_STORED,
                },
            }
        },
        "/api/v1/metrics": {
            "post": _op(
                "Report an SDK event on a delivery: opened, clicked, converted, delivered",
                security="track",
                body=_SDK_METRIC,
            )
        },
        "/api/v1/push/events": {
            "post": _op(
                "Legacy push event report (as /api/v1/metrics)",
                security="track",
                body=_PUSH_EVENT,
            )
        },
        "/api/v1/customers/{identifier}": {
            "put": _op(
                "Identify a person (id, email or cio_<cio_id>) and merge attributes",
                security="track",
                body=_JSON_OBJECT,
                params=[_path("identifier")],
            )
        },
        "/v1/customers/{identifier}": {"get": _op("A person", params=[_path("identifier")])},
        "/v1/customers/{identifier}/activities": {
            "get": _op("A person's timeline: sent, opened, clicked", params=[_path("identifier")])
        },
        "/v1/transactional": {
            "get": _op("List transactional messages"),
            "post": _op("Create a transactional message", body=_MESSAGE, ok=201),
        },
        "/v1/transactional/{id}": {
            "get": _op("A transactional message", params=[_path("id", "integer")]),
            "put": _op(
                "Change a transactional message", body=_MESSAGE, params=[_path("id", "integer")]
            ),
        },
        "/v1/transactional/{id}/metrics": {
            "get": _op(
                "Sent, delivered, opened, clicked (recipients), click rate; human and all",
                params=[_path("id", "integer")],
            )
        },
        "/v1/transactional/{id}/metrics/links": {
            "get": _op(
                "Link click series (Customer.io shape)",
                params=[_path("id", "integer"), *_SERIES_QUERY],
                response=_SERIES,
            )
        },
        "/v1/transactional/{id}/links": {
            "get": _op(
                "Top clicked links: total and unique clicks", params=[_path("id", "integer")]
            )
        },
        "/v1/send/{channel}": {
            "post": _op(
                "Send a message to one person; every link is tracked",
                body=_SEND,
                params=[{**_path("channel"), "schema": {"enum": _CHANNELS}}],
                response={
                    "type": "object",
                    "properties": {
                        "delivery_id": {"type": "string"},
                        "queued_at": {"type": "integer"},
                        "warnings": {"type": "array", "items": {"type": "object"}},
                    },
                },
            )
        },
        "/v1/deliveries/{delivery_id}": {
            "get": _op(
                "A delivery with its body (if retained) and links", params=[_path("delivery_id")]
            )
        },
        "/v1/outbox": {
            "get": _op(
                "Deliveries waiting in the outbox (no transport configured)",
                params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
            )
        },
        "/v1/workspace/settings": {
            "get": _op("Workspace tracking settings", response=_SETTINGS),
            "put": _op("Change workspace tracking settings", body=_SETTINGS, response=_SETTINGS),
        },
        "/v1/workspace/signing_keys": {
            "get": _op("Signing keys, retired ones included"),
            "post": _op("Rotate: add a key that signs new links", ok=201),
        },
        "/v1/workspace/signing_keys/{kid}": {
            "delete": _op("Retire a key: links signed with it stop working", params=[_path("kid")])
        },
        "/v1/writer": {
            "get": _op(
                "How far reports are behind clicks: the event writer's state, lag and rate",
                response=_WRITER,
            )
        },
        "/v1/exports/clicks.csv": {
            "get": _op(
                "Clicks as CSV, for a message and/or a time range",
                params=[
                    _query("message_id", {"type": "integer"}),
                    _query("start", {"type": "number"}),
                    _query("end", {"type": "number"}),
                ],
                content_type="text/csv",
                response={"type": "string"},
            )
        },
        "/openapi.json": {"get": _op("This document", security="")},
        "/v1/openapi.json": {"get": _op("This document (as /openapi.json)", security="")},
    },
}


# -- campaigns, API-triggered broadcasts and newsletters

_ACTION = {
    **_MESSAGE,
    "required": ["body"],
    "description": "tracked defaults to true for email, SMS and WhatsApp, false for push/in-app",
}
_CONDITION = {
    "description": 'An attribute test or an AND of them: {"attribute": {"field": "plan", '
    '"operator": "eq"|"exists", "value": "pro"}} or {"and": [condition, …]}. eq compares '
    'as text (5 = "5", true = "true"; emails without case); field id, email, phone, '
    "cio_id or any attribute.",
    "type": "object",
}
_AUDIENCE = {
    "type": "object",
    "description": "Exactly one of ids, emails, per_user_data, recipients. Unknown people are "
    "counted as failed and listed in the job's errors; unsubscribed and repeated ones as "
    "skipped.",
    "properties": {
        "ids": {"type": "array", "items": {"type": ["string", "integer"]},
                "description": "person ids, or cio_<cio_id>"},
        "emails": {"type": "array", "items": {"type": "string"}},
        "per_user_data": {
            "type": "array",
            "items": {"type": "object", "description": "one of id, email, cio_id; data: "
                      "trigger.* for this person, over the top-level data"},
        },
        "recipients": {"description": '{"ids": […]}, {"emails": […]} or a filter condition',
                       "oneOf": [{"type": "object"}, _CONDITION]},
        "data": {"type": "object", "description": "trigger.* in Liquid"},
    },
}  # fmt: skip
_JOB = {
    "type": "object",
    "description": "A broadcast trigger or newsletter send; counts are of people",
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["running", "done", "failed"]},
        "total": {"type": "integer"},
        "sent": {"type": "integer"},
        "failed": {"type": "integer"},
        "skipped": {"type": "integer", "description": "unsubscribed, or listed twice"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "the first 100"},
        "created_at": {"type": "number"},
        "finished_at": {"type": ["number", "null"]},
    },
}


def _reports(prefix: str, params: list[dict[str, Any]], what: str) -> dict[str, Any]:
    return {
        f"{prefix}/metrics": {
            "get": _op(f"Sent, delivered, opened, clicked (recipients) of {what}", params=params)
        },
        f"{prefix}/metrics/links": {
            "get": _op(
                f"Link click series of {what} (Customer.io shape)",
                params=params + _SERIES_QUERY,
                response=_SERIES,
            )
        },
        f"{prefix}/links": {
            "get": _op(f"Top clicked links of {what}: total and unique", params=params)
        },
    }


def _container_paths(plural: str, kind: str, action: str) -> dict[str, Any]:
    """Create, list, read a campaign, broadcast or newsletter; read and change its actions."""
    base = f"/v1/{plural}"
    one = [_path("id", "integer")]
    action_params = [*one, _path(f"{action}_id", "integer")]
    create = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            f"{action}s": {"type": "array", "items": _ACTION},
            **({"trigger_event": {"type": "string"}} if kind == "campaign" else {}),
        },
        "description": "a newsletter also takes its one content's fields at the top level"
        if kind == "newsletter"
        else f"one or more {action}s",
    }
    paths: dict[str, Any] = {
        base: {
            "get": _op(f"List {plural}"),
            "post": _op(f"Create a {kind} with its {action}s", body=create, ok=201),
        },
        f"{base}/{{id}}": {"get": _op(f"A {kind} with its {action}s", params=one)},
        f"{base}/{{id}}/{action}s": {"get": _op(f"The {action}s of a {kind}", params=one)},
        f"{base}/{{id}}/{action}s/{{{action}_id}}": {
            "get": _op(f"One {action}", params=action_params),
            "put": _op(f"Change a {action} (not its channel)", body=_MESSAGE, params=action_params),
        },
    }
    paths.update(_reports(f"{base}/{{id}}", one, f"all the {kind}'s {action}s"))
    one_action = f"{base}/{{id}}/{action}s/{{{action}_id}}"
    paths.update(_reports(one_action, action_params, f"one {action}"))
    return paths


def _job_paths(plural: str, kind: str, verb: str, jobs: str) -> dict[str, Any]:
    """Start a broadcast trigger or newsletter send, list them, follow one's progress."""
    base = f"/v1/{plural}"
    one = [_path("id", "integer")]
    job_params = [*one, _path(f"{verb}_id", "integer")]
    return {
        f"{base}/{{id}}/{verb}": {
            "post": _op(
                f"Start a {verb}: runs in the background; poll its progress",
                body=_AUDIENCE,
                params=one,
                ok=202,
                response=_JOB,
            )
        },
        f"{base}/{{id}}/{jobs}": {"get": _op(f"The {jobs} of a {kind}", params=one)},
        f"{base}/{{id}}/{jobs}/{{{verb}_id}}": {
            "get": _op(f"Progress of a {verb}", params=job_params, response=_JOB)
        },
    }


_TRIGGER_PATHS: dict[str, Any] = {
    "/v1/campaigns/{id}/trigger": {
        "post": _op(
            "Send every action to one person now, with event.* and campaign.* in Liquid",
            params=[_path("id", "integer")],
            body={
                "type": "object",
                "required": ["identifiers"],
                "properties": {
                    "identifiers": _SEND["properties"]["identifiers"],  # type: ignore[index]
                    "event": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "data": {"type": "object"}},
                    },
                },
            },
        )
    },
    "/api/v1/customers/{identifier}/events": {
        "post": _op(
            "Track an event: triggers the campaigns whose trigger_event is its name",
            security="track",
            params=[_path("identifier")],
            body={
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "data": {"type": "object"}},
            },
        )
    },
}

OPENAPI["paths"].update(_container_paths("campaigns", "campaign", "action"))
OPENAPI["paths"].update(_container_paths("broadcasts", "broadcast", "action"))
OPENAPI["paths"].update(_job_paths("broadcasts", "broadcast", "trigger", "triggers"))
OPENAPI["paths"].update(_container_paths("newsletters", "newsletter", "content"))
OPENAPI["paths"].update(_job_paths("newsletters", "newsletter", "send", "sends"))
OPENAPI["paths"].update(_TRIGGER_PATHS)

"""The OpenAPI 3.1 document the app serves at /openapi.json.

The paths, with what each answers; the bodies' schemas are in `schemas`. The
campaign, broadcast and newsletter paths are built by `_container_paths` and
`_job_paths`, one send path per channel. A test checks that every route the
app serves is described here, and a schemathesis run that the document is true.
Over 400 lines for one concept: one document, every path in it, in one place.
"""

from __future__ import annotations

from typing import Any

from linktrack.core.model import CHANNELS
from linktrack.entrypoints.api import schemas
from linktrack.entrypoints.api.reports import activity_types
from linktrack.service.containers import MAX_ACTIONS

_ERROR = {
    "description": "What is wrong with the request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_JSON_OBJECT = schemas.JSON_OBJECT
_UNPROCESSABLE = {
    "description": "Valid by the schema, but cannot be done: Liquid that does not compile, "
    "NUL characters, nesting over 32 levels, too many links, no address for the channel",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


_ALSO = {
    409: {**_ERROR, "description": "Conflicts with what is stored (another person has this "
          "email or id; the person changed while the message was composed: send again; the "
          "only live key)"},
    503: {**_ERROR, "description": "The event log is unavailable: retry (Retry-After)"},
    422: {**_ERROR, "description": "start is not the next value of a page"},  # lists
}  # fmt: skip


def _op(
    summary: str,
    *,
    security: str = "app",
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    ok: int = 200,
    response: dict[str, Any] | None = None,
    content_type: str = "application/json",
    also: tuple[int, ...] = (),
    paged: int = 0,
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
    if paged:  # a list, `paged` entries a page at most
        params, also = [*(params or []), *_page(paged)], (*also, 422)
    for status in also:
        op["responses"][str(status)] = _ALSO[status]
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"]["413"] = _ERROR
        op["responses"]["422"] = _UNPROCESSABLE
    return op


def _page(most: int = 100) -> list[dict[str, Any]]:
    """`limit` and `start` of a list: each answer's `next` is the next page's `start`."""
    return [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": most}),
        _query("start", {"type": "string", "description": "the next of the page before"}),
    ]


def _path(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


# id, email or cio_<cio_id>: not blank (a blank one names nobody: a 400).
_IDENTIFIER = {
    "name": "identifier",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": schemas.NONBLANK},
}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_TRACKED_PATH = [_path("payload"), _path("signature")]
_REDIRECTED = {"description": "Redirect (sent only once the click is durable)"}
_NOT_STORED = {"description": "The click could not be stored: retry (Retry-After)"}
_INVALID = {"description": "Invalid link"}
_REDIRECT_RESPONSES = {"302": _REDIRECTED, "404": _INVALID, "503": _NOT_STORED}
_SERIES_QUERY = [
    _query("period", {"enum": ["hours", "days", "weeks", "months"]}),
    {
        **_query("steps", {"type": "integer", "minimum": 0}),
        "description": "Periods in the series, as Customer.io counts them: absent or 0 is the "
        "maximum (24 hours, 45 days, 12 weeks, 121 months; absent with months: 12), at least 2 "
        "(1 is the last two periods), above the maximum is the maximum. Periods are UTC; weeks "
        "start on Monday.",
    },
    _query("unique", {"type": "boolean"}),
]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "linktrack",
        "version": "0.1.0",
        "description": "Self-hosted link tracking for messages. App API: Bearer app key. "
        'Track API: Basic site_id:track_api_key. Errors: {"meta":{"error":"…","errors":["…"]}}.',
    },
    "components": {
        "securitySchemes": {
            "app": {"type": "http", "scheme": "bearer"},
            "track": {"type": "http", "scheme": "basic"},
        },
        "schemas": {
            "Condition": schemas.CONDITION,
            "SegmentCondition": schemas.SEGMENT_CONDITION,
            "Error": schemas.ERROR,
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
                "Report an event of a delivery: opened, clicked, delivered, converted (an SDK), or "
                "bounced, spammed, dropped, deferred (your own relay; with a reason)",
                security="track",
                body=schemas.SDK_METRIC,
                also=(503,),
            )
        },
        "/api/v1/push/events": {
            "post": _op(
                "Legacy push event report (as /api/v1/metrics)",
                security="track",
                body=schemas.PUSH_EVENT,
                also=(503,),
            )
        },
        "/api/v1/customers/{identifier}": {
            "put": _op(
                "Identify a person (id, email or cio_<cio_id>) and merge attributes",
                security="track",
                body=_JSON_OBJECT,
                params=[_IDENTIFIER],
                also=(409,),
            ),
            "delete": _op(
                "Delete a person (their deliveries stay in reports, unlinked)",
                security="track",
                params=[_IDENTIFIER],
            ),
        },
        "/api/v1/merge_customers": {
            "post": _op(
                "Merge the secondary person into the primary (Customer.io's merge): the primary "
                "gains what it lacks and every delivery, click and device; the secondary is "
                "deleted. merged: false when either is unknown",
                security="track",
                body=schemas.MERGE,
            )
        },
        "/api/v1/customers/{identifier}/suppress": {
            "post": _op(
                "Delete a person and ignore their id, email and cio_id until unsuppressed",
                security="track",
                params=[_IDENTIFIER],
            )
        },
        "/api/v1/customers/{identifier}/unsuppress": {
            "post": _op(
                "Let a suppressed identifier (and those suppressed with it) be added again",
                security="track",
                params=[_IDENTIFIER],
            )
        },
        "/api/v1/customers/{identifier}/devices": {
            "put": _op(
                "Add or update a push device (a token moves from another person); the person's "
                "pushes go to the device used last",
                security="track",
                body=schemas.DEVICE,
                params=[_IDENTIFIER],
            )
        },
        "/api/v1/customers/{identifier}/devices/{device_id}": {
            "delete": _op(
                "Remove a person's push device",
                security="track",
                params=[_IDENTIFIER, _path("device_id")],
            )
        },
        "/v1/customers/{identifier}": {"get": _op("A person", params=[_IDENTIFIER])},
        "/v1/customers/{identifier}/activities": {
            "get": _op(
                "A person's timeline, newest first, a page at a time: sent, opened, clicked",
                params=[_IDENTIFIER, _query("type", {"enum": activity_types()})],
                paged=100,
            )
        },
        "/v1/transactional": {
            "get": _op("List transactional messages, newest first, a page at a time", paged=100),
            "post": _op("Create a transactional message", body=schemas.MESSAGE, ok=201),
        },
        "/v1/transactional/{id}": {
            "get": _op("A transactional message", params=[_path("id", "integer")]),
            "put": _op(
                "Change a transactional message",
                body=schemas.MESSAGE_CHANGE,
                params=[_path("id", "integer")],
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
                response=schemas.SERIES,
            )
        },
        "/v1/transactional/{id}/links": {
            "get": _op(
                "Top clicked links: total and unique clicks", params=[_path("id", "integer")]
            )
        },
        "/v1/deliveries/{delivery_id}": {
            "get": _op(
                "A delivery with its body (if retained) and links", params=[_path("delivery_id")]
            )
        },
        "/v1/messages": {
            "get": _op(
                "Deliveries as Customer.io's message objects, newest first",
                paged=100,
                params=[_query("type", {"enum": sorted(CHANNELS)})],
            )
        },
        "/v1/messages/{delivery_id}": {
            "get": _op(
                "A delivery as Customer.io's message object (ids, metrics times)",
                params=[_path("delivery_id")],
            )
        },
        "/v1/reporting_webhooks": {
            "get": _op("Reporting webhooks, newest first, a page at a time", paged=100),
            "post": _op(
                "Register a reporting webhook: every event it takes is POSTed in Customer.io's "
                "envelope, signed (X-CIO-Signature); a click later judged a machine's is sent "
                "again as a correction (event_id + ':revised', machine true, revises: the "
                "original event_id); the answer holds its signing_key, shown once",
                body=schemas.REPORTING_WEBHOOK,
                ok=201,
            ),
        },
        "/v1/reporting_webhooks/{webhook_id}": {
            "get": _op(
                "A reporting webhook with its pending, delivered and failed events and last error",
                params=[_path("webhook_id", "integer")],
            ),
            "put": _op(
                "Change a reporting webhook (name, endpoint, events, disabled)",
                body=schemas.REPORTING_WEBHOOK_CHANGE,
                params=[_path("webhook_id", "integer")],
            ),
            "delete": _op(
                "Remove a reporting webhook (events it still owed are not sent)",
                params=[_path("webhook_id", "integer")],
            ),
        },
        "/v1/reporting_webhooks/{webhook_id}/events": {
            "get": _op(
                "A reporting webhook's events, newest first: attempts, status, last error",
                params=[_path("webhook_id", "integer")],
                paged=100,
            )
        },
        "/v1/outbox": {
            "get": _op("Deliveries waiting in the outbox (no transport configured)", paged=500)
        },
        "/v1/workspace/settings": {
            "get": _op("Workspace tracking settings", response=schemas.SETTINGS),
            "put": _op(
                "Change workspace tracking settings: the given ones; warnings is ignored",
                body=schemas.SETTINGS_CHANGE,
                response=schemas.SETTINGS,
            ),
        },
        "/v1/workspace/signing_keys": {
            "get": _op("Signing keys, retired ones included"),
            "post": _op("Rotate: add a key that signs new links", ok=201),
        },
        "/v1/workspace/signing_keys/{kid}": {
            "delete": _op(
                "Retire a key: links signed with it stop working",
                params=[_path("kid")],
                also=(409,),
            )
        },
        "/v1/writer": {
            "get": _op(
                "How far reports are behind clicks: the event writer's state, lag and rate",
                response=schemas.WRITER,
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
        "/healthz": {"get": schemas.HEALTH["healthz"]},
        "/readyz": {"get": schemas.HEALTH["readyz"]},
        "/openapi.json": {"get": _op("This document", security="")},
        "/v1/openapi.json": {"get": _op("This document (as /openapi.json)", security="")},
    },
}


# -- campaigns, API-triggered broadcasts and newsletters


def _reports(prefix: str, params: list[dict[str, Any]], what: str) -> dict[str, Any]:
    return {
        f"{prefix}/metrics": {
            "get": _op(f"Sent, delivered, opened, clicked (recipients) of {what}", params=params)
        },
        f"{prefix}/metrics/links": {
            "get": _op(
                f"Link click series of {what} (Customer.io shape)",
                params=params + _SERIES_QUERY,
                response=schemas.SERIES,
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
    create = schemas.container(kind, MAX_ACTIONS)
    paths: dict[str, Any] = {
        base: {
            "get": _op(f"List {plural}, newest first, a page at a time", paged=100),
            "post": _op(f"Create a {kind} with its {action}s", body=create, ok=201),
        },
        f"{base}/{{id}}": {"get": _op(f"A {kind} with its {action}s", params=one)},
        f"{base}/{{id}}/{action}s": {"get": _op(f"The {action}s of a {kind}", params=one)},
        f"{base}/{{id}}/{action}s/{{{action}_id}}": {
            "get": _op(f"One {action}", params=action_params),
            "put": _op(
                f"Change a {action} (not its channel)",
                body=schemas.MESSAGE_CHANGE,
                params=action_params,
            ),
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
                body=schemas.AUDIENCE,
                params=one,
                ok=202,
                response=schemas.JOB,
            )
        },
        f"{base}/{{id}}/{jobs}": {
            "get": _op(f"The {jobs} of a {kind}, newest first", params=one, paged=100)
        },
        f"{base}/{{id}}/{jobs}/{{{verb}_id}}": {
            "get": _op(f"Progress of a {verb}", params=job_params, response=schemas.JOB)
        },
    }


_SENT = {
    "type": "object",
    "required": ["delivery_id", "queued_at", "warnings"],
    "properties": {
        "delivery_id": {"type": "string"},
        "queued_at": {"type": "integer"},
        "send_at": {"type": "integer", "description": "a scheduled send: when it goes out"},
        "warnings": {"type": "array", "items": {"type": "object"}},
    },
}
_TRIGGER_PATHS: dict[str, Any] = {
    "/v1/campaigns/{id}/trigger": {
        "post": _op(
            "Send every action to one person now, with event.* and campaign.* in Liquid",
            params=[_path("id", "integer")],
            body=schemas.CAMPAIGN_TRIGGER,
            also=(409,),
        )
    },
    "/api/v1/customers/{identifier}/events": {
        "post": _op(
            "Track an event: triggers the campaigns whose trigger_event is its name",
            security="track",
            params=[_IDENTIFIER],
            body=schemas.TRACK_EVENT,
            also=(409,),
        )
    },
}

OPENAPI["paths"].update(_container_paths("campaigns", "campaign", "action"))
OPENAPI["paths"].update(_container_paths("broadcasts", "broadcast", "action"))
OPENAPI["paths"].update(_job_paths("broadcasts", "broadcast", "trigger", "triggers"))
OPENAPI["paths"].update(_container_paths("newsletters", "newsletter", "content"))
OPENAPI["paths"].update(_job_paths("newsletters", "newsletter", "send", "sends"))
OPENAPI["paths"].update(_TRIGGER_PATHS)
_SEGMENT = [_path("id", "integer")]
OPENAPI["paths"].update(
    {
        "/v1/segments": {
            "get": _op("List segments, newest first, a page at a time", paged=100),
            "post": _op(
                "Create a segment: who clicked which links, attribute tests, and/or",
                body=schemas.NEW_SEGMENT,
                ok=201,
                response=schemas.SEGMENT,
            ),
        },
        "/v1/segments/{id}": {
            "get": _op("A segment", params=_SEGMENT, response=schemas.SEGMENT),
            "delete": _op("Delete a segment", params=_SEGMENT),
        },
        "/v1/segments/{id}/customer_count": {
            "get": _op("How many people are in a segment", params=_SEGMENT,
                       response=schemas.SEGMENT_COUNT),
        },
        "/v1/segments/{id}/membership": {
            "get": _op("A segment's members by person, a page at a time (keyset)",
                       params=_SEGMENT, paged=1000, response=schemas.MEMBERSHIP),
        },
    }
)  # fmt: skip
_CIO_TRIGGERS = {  # Customer.io's paths for the same triggers (a broadcast's id in {id})
    "/v1/broadcasts/{id}/trigger": "/v1/campaigns/{id}/triggers",  # POST
    "/v1/broadcasts/{id}/triggers": "/v1/campaigns/{id}/triggers",  # GET
    "/v1/broadcasts/{id}/triggers/{trigger_id}": "/v1/campaigns/{id}/triggers/{trigger_id}",
}
for _ours, _ops in _job_paths("broadcasts", "broadcast", "trigger", "triggers").items():
    OPENAPI["paths"].setdefault(_CIO_TRIGGERS[_ours], {}).update(_ops)
OPENAPI["paths"].update(
    {
        f"/v1/send/{channel}": {
            "post": _op(
                f"Send a {channel} message to one person; every link is tracked",
                body=schemas.send(channel),
                response=_SENT,
                also=(409,),
            )
        }
        for channel in schemas.CHANNELS
    }
)

"""The OpenAPI 3.1 document the app serves at /openapi.json."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "What is wrong with the request",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_JSON_OBJECT = {"type": "object", "additionalProperties": True}


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


_MESSAGE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "channel": {"enum": ["email", "sms", "whatsapp", "push", "in_app"]},
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
    },
}
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
_TRACKED_PATH = [_path("payload"), _path("signature")]

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
                "responses": {
                    "302": {"description": "Redirect"},
                    "404": {"description": "Invalid link"},
                },
            },
            "head": {
                "summary": "As GET (scanners often use HEAD; recorded as a machine click)",
                "parameters": _TRACKED_PATH,
                "responses": {
                    "302": {"description": "Redirect"},
                    "404": {"description": "Invalid link"},
                },
            },
        },
        "/e/o/{payload}/{signature}": {
            "get": {
                "summary": "Open pixel: a 1x1 GIF, open recorded",
                "parameters": _TRACKED_PATH,
                "responses": {"200": {"description": "GIF"}, "404": {"description": "Invalid"}},
            }
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
                params=[
                    _path("id", "integer"),
                    _query("period", {"enum": ["hours", "days", "weeks", "months"]}),
                    _query("steps", {"type": "integer", "minimum": 1, "maximum": 1000}),
                    _query("unique", {"type": "boolean"}),
                ],
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
                params=[
                    {
                        "name": "channel",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["email", "sms", "whatsapp", "push", "in_app"]},
                    }
                ],
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
    },
}

"""The JSON Schemas of request and response bodies in the OpenAPI document.

Each says exactly what the API takes: a request that breaks one of them is a
400, a request that fits is never a 400 (a schemathesis run in the tests holds
both). What a schema cannot say is a 422: Liquid that does not compile, NUL
characters (U+0000) anywhere in a body, nesting deeper than 32 levels, a link
limit, a person with no address for the channel. Lengths come from the
constants the code checks, so the two cannot drift.

Over 400 lines for one concept: the document's every request body, kept in one
place so that each shares the same pieces (`text`, `optional`, identifiers).
"""

from __future__ import annotations

from typing import Any, get_args

from linktrack.core.model import (
    ADDRESS_LENGTH,
    EVENT_NAME_LENGTH,
    IDENTIFIER_LENGTHS,
    NAME_LENGTH,
    Channel,
)
from linktrack.core.segments import DESCRIPTION_LENGTH, HREF_LENGTH, MESSAGE_KINDS
from linktrack.core.settings import MAX_PARAMS, PARAM_NAME_LENGTH, PARAM_VALUE_LENGTH
from linktrack.core.webhooks import EVENTS
from linktrack.service.reporting import ENDPOINT_PATTERN
from linktrack.service.sdk_events import METRICS, PLATFORMS, PUSH_METRICS

CHANNELS = list(get_args(Channel))
JSON_OBJECT: dict[str, Any] = {"type": "object"}
_SP = r"[ \t\n\r\f\v]"  # core.errors.SPACES: what a value is stripped of
NONBLANK = r"[^ \t\n\r\f\v]"  # holds something other than those
_NULL_IS_DEFAULT = "null: as if not given"


def text(most: int | None = None, *, blank: bool = True, **more: Any) -> dict[str, Any]:
    """A string of at most `most` characters; `blank=False`: not empty nor all spaces."""
    schema: dict[str, Any] = {"type": "string", **more}
    if most is not None:
        schema["maxLength"] = most
    if not blank:
        schema.update(minLength=1, pattern=NONBLANK)
    return schema


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, or null (which means: not given)."""
    return {"anyOf": [schema, {"type": "null"}], "description": _NULL_IS_DEFAULT}


def _one_identifier(**extra: Any) -> dict[str, Any]:
    """Exactly one of id, email, cio_id (the id may be a number)."""
    kinds = {
        "id": {"oneOf": [text(IDENTIFIER_LENGTHS["id"], blank=False), {"type": "integer"}]},
        "email": text(IDENTIFIER_LENGTHS["email"], blank=False),
        "cio_id": {"type": "string", "pattern": f"^{_SP}*[A-Za-z0-9]{{1,32}}{_SP}*$"},
    }
    return {
        "oneOf": [
            {"type": "object", "required": [kind], "properties": {kind: schema, **extra},
             "additionalProperties": False}
            for kind, schema in kinds.items()
        ]
    }  # fmt: skip


IDENTIFIERS = {**_one_identifier(), "description": "exactly one of id, email, cio_id"}
MERGE = {
    "type": "object",
    "required": ["primary", "secondary"],
    "additionalProperties": False,
    "properties": {"primary": IDENTIFIERS, "secondary": IDENTIFIERS},
}

_CONTENT_PROPERTIES: dict[str, Any] = {
    "name": text(NAME_LENGTH),
    "channel": {"enum": CHANNELS},
    "subject": text(description="Liquid"),
    "body": text(description="Liquid; HTML for email"),
    "body_plain": text(description="Liquid; the text part of an email"),
    "from": text(ADDRESS_LENGTH),
    "tracked": {"type": "boolean"},
}
MESSAGE_CHANGE = {
    "type": "object",
    "properties": _CONTENT_PROPERTIES,
    "additionalProperties": False,
    "description": "the fields to change; the others keep their values",
}
MESSAGE = {
    **MESSAGE_CHANGE,
    "required": ["body"],
    "properties": {**_CONTENT_PROPERTIES, "body": {**_CONTENT_PROPERTIES["body"], "minLength": 1}},
    "description": "channel defaults to email, name to Untitled; tracked defaults to true for "
    "email, SMS and WhatsApp, false for push and in-app",
}


def send(channel: str) -> dict[str, Any]:
    """A send to one person on `channel`: a stored message or a body of its own."""
    body_fields = ["body", "message"] if channel == "push" else ["body"]
    properties: dict[str, Any] = {
        "transactional_message_id": {
            "oneOf": [{"type": "integer"}, {"type": "string", "minLength": 1}],
            "description": "the message's id, or its name",
        },
        "to": optional(text(ADDRESS_LENGTH)),
        "identifiers": IDENTIFIERS,
        "message_data": optional({**JSON_OBJECT, "description": "trigger.* in Liquid"}),
        "subject": optional(text()),
        "body": optional(text()),
        "body_plain": optional(text()),
        "from": optional(text(ADDRESS_LENGTH)),
        "tracked": optional({"type": "boolean", "default": True}),
        "disable_message_retention": optional({"type": "boolean", "default": False}),
        "send_to_unsubscribed": optional({"type": "boolean", "default": True}),
        "send_at": optional(
            {
                "type": "number",
                "description": "Unix seconds: the delivery is scheduled (status `scheduled`, "
                "rendered now) and sent at that time; past: now; more than "
                "90 days ahead: a 422",
            }
        ),
    }
    if channel == "email":
        addresses = {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "addresses separated by commas, or a list (at most 50)",
        }
        properties |= {
            "cc": optional(addresses), "bcc": optional(addresses),
            "reply_to": optional(text(ADDRESS_LENGTH)),
            "headers": optional({"type": "object", "additionalProperties": {"type": "string"},
                                 "description": "extra headers (not From, To, Subject…)"}),
            "attachments": optional({"type": "object", "additionalProperties": {"type": "string"},
                                     "description": "file name → base64; 512 KiB in all"}),
            "preheader": optional(text(description="preview text, hidden first in the body")),
        }  # fmt: skip
    if channel == "push":
        properties |= {
            "title": optional(text(description="the subject")),
            "message": optional(text(description="the body")),
            "link": optional(text(description="tap target (Liquid; cio_link tracks)")),
            "image_url": optional(text()),
            "custom_data": optional({**JSON_OBJECT, "description": "passed to the app"}),
        }
    given = [{"required": ["transactional_message_id"]}] + [
        {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
        for name in body_fields
    ]
    return {
        "type": "object",
        "required": ["identifiers"],
        "properties": properties,
        "anyOf": given,
        "description": f"transactional_message_id or a non-empty {' or '.join(body_fields)}",
    }


def _delivery_report(kind: str, metrics: tuple[str, ...], **properties: Any) -> dict[str, Any]:
    """An app's report on a delivery, `kind` naming what happened (an SDK metric)."""
    return {
        "type": "object",
        "required": ["delivery_id", kind],
        "properties": {
            "delivery_id": text(64, minLength=1),
            kind: {"enum": list(metrics)},
            "timestamp": optional(
                {"type": "number", "exclusiveMinimum": 0,
                 "description": "Unix seconds, at most a day ahead (422 beyond); a retry with "
                 "the same timestamp counts once"}
            ),
            **properties,
        },
    }  # fmt: skip


SDK_METRIC = _delivery_report(
    "metric",
    METRICS,
    href=optional(text(8192, description="clicked: the link tapped")),
    recipient=optional(
        {"type": ["string", "integer"], "maxLength": 512,
         "description": "device token, address or phone number"}
    ),
    reason=optional(text(2048, description="bounced, dropped, deferred: why")),
)  # fmt: skip
DEVICE = {
    "type": "object",
    "required": ["device"],
    "properties": {
        "device": {
            "type": "object",
            "required": ["id", "platform"],
            "additionalProperties": False,
            "properties": {
                "id": text(255, minLength=1, description="the device token"),
                "platform": {"enum": list(PLATFORMS)},
                "last_used": optional({"type": "number", "exclusiveMinimum": 0}),
                "attributes": optional(
                    {"type": "object", "maxProperties": 100,
                     "propertyNames": {"maxLength": 255},
                     "additionalProperties": {"type": ["string", "number", "boolean"],
                                              "maxLength": 1024}}
                ),
            },
        }
    },
}  # fmt: skip
PUSH_EVENT = _delivery_report("event", PUSH_METRICS, device_id=optional(text(512)))

_HOST = (
    f"^{_SP}*"
    r"([A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?|\[[0-9a-fA-F:]+\])(:[0-9]{1,5})?"
    f"{_SP}*$"
)
_SETTINGS_PROPERTIES: dict[str, Any] = {
    "tracking_domain": {"type": "string", "pattern": _HOST, "description": "host[:port]"},
    "tracking_https": {"type": "boolean"},
    "url_params": {
        "type": "object",
        "maxProperties": MAX_PARAMS,
        "propertyNames": {"minLength": 1, "maxLength": PARAM_NAME_LENGTH},
        "additionalProperties": text(PARAM_VALUE_LENGTH, description="Liquid"),
    },
    "add_cio_id": {"type": "boolean"},
    "open_tracking": {"type": "boolean"},
    "shorten_links": {"type": "boolean"},
    "short_domain": {
        "type": "string",
        "pattern": f"^{_SP}*$|{_HOST}",
        "description": "host[:port]; empty: the tracking domain",
    },
}
SETTINGS_CHANGE = {
    "type": "object",
    "properties": {
        **_SETTINGS_PROPERTIES,
        "warnings": {"description": "ignored (what GET answers may be sent back as it is)"},
    },
    "additionalProperties": False,
}
SETTINGS = {
    "type": "object",
    "required": [*_SETTINGS_PROPERTIES, "warnings"],
    "properties": {
        **_SETTINGS_PROPERTIES,
        "warnings": {"type": "array", "items": {"type": "string"}, "readOnly": True},
    },
    "additionalProperties": False,
}

_CLICK_KINDS = ("clicked", "human_clicked", "machine_clicked")
SERIES = {
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
                                    for k in _CLICK_KINDS
                                },
                            },
                            "total": {
                                "type": "object",
                                "properties": {k: {"type": "integer"} for k in _CLICK_KINDS},
                            },
                        },
                    },
                },
            },
        }
    },
}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
WRITER = {
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


# -- campaigns, broadcasts and newsletters: their actions, audiences and jobs


def container(kind: str, most_actions: int) -> dict[str, Any]:
    """Create a campaign, broadcast or newsletter with its actions (a newsletter's contents)."""
    word = "content" if kind == "newsletter" else "action"
    listed: dict[str, Any] = {
        "name": text(NAME_LENGTH, blank=False),
        f"{word}s": {"type": "array", "items": MESSAGE, "minItems": 1, "maxItems": most_actions},
    }
    if kind == "campaign":
        listed["trigger_event"] = optional(text(EVENT_NAME_LENGTH, minLength=1))
    with_list = {
        "type": "object",
        "required": [f"{word}s"],
        "properties": listed,
        "additionalProperties": False,
    }
    if kind != "newsletter":
        return {**with_list, "description": f"one or more {word}s"}
    one = {**MESSAGE, "properties": {**MESSAGE["properties"], "name": listed["name"]}}  # type: ignore[dict-item]
    return {"oneOf": [with_list, one], "description": "contents, or one content's fields"}


_CIO_ID = f"{_SP}*[A-Za-z0-9]{{1,32}}{_SP}*$"
_LISTED: dict[str, Any] = {
    # An id that starts with cio_ names a person by cio_id.
    "id": {
        "oneOf": [
            {"type": "integer"},
            {"type": "string", "pattern": "^cio_" + _CIO_ID},
            {**text(IDENTIFIER_LENGTHS["id"], blank=False), "not": {"pattern": "^cio_"}},
        ]
    },
    "email": text(IDENTIFIER_LENGTHS["email"], blank=False),
    "cio_id": {"type": "string", "pattern": "^" + _CIO_ID},
}
_ATTRIBUTE: dict[str, Any] = {
    "type": "object", "required": ["attribute"], "additionalProperties": False,
    "properties": {"attribute": {"oneOf": [
        {"type": "object", "required": ["field", "value"], "additionalProperties": False,
         "properties": {"field": text(minLength=1), "operator": {"const": "eq"},
                        "value": {"type": ["string", "number", "boolean"]}}},
        {"type": "object", "required": ["field", "operator"], "additionalProperties": False,
         "properties": {"field": text(minLength=1), "operator": {"const": "exists"},
                        "value": {}}},
    ]}},
}  # fmt: skip
CONDITION: dict[str, Any] = {
    "description": 'An attribute test or an AND of them: {"attribute": {"field": "plan", '
    '"operator": "eq"|"exists", "value": "pro"}} or {"and": [condition, …]}, nested at most '
    '8 deep. eq compares as text (5 = "5", true = "true"; emails without case); field id, '
    "email, phone, cio_id or any attribute.",
    "oneOf": [
        {"type": "object", "required": ["and"], "additionalProperties": False,
         "properties": {"and": {"type": "array", "minItems": 1,
                                "items": {"$ref": "#/components/schemas/Condition"}}}},
        _ATTRIBUTE,
    ],
}  # fmt: skip


def _listing(key: str, kind: str) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "items": _LISTED[kind], "description": key}


_PER_USER = {
    "type": "array",
    "minItems": 1,
    "items": _one_identifier(data={**JSON_OBJECT, "description": "trigger.* for this person"}),
}
_AUDIENCE_DATA = {**JSON_OBJECT, "description": "trigger.* in Liquid, under each person's data"}
AUDIENCE = {
    "description": "Exactly one of ids, emails, per_user_data, recipients. Unknown people are "
    "counted as failed and listed in the job's errors; unsubscribed and repeated ones as "
    "skipped.",
    "oneOf": [
        {"type": "object", "required": [key], "additionalProperties": False,
         "properties": {key: schema, "data": _AUDIENCE_DATA}}
        for key, schema in (
            ("ids", _listing("person ids, or cio_<cio_id>", "id")),
            ("emails", _listing("email addresses", "email")),
            ("per_user_data", _PER_USER),
            ("recipients", {"oneOf": [
                {"type": "object", "required": ["ids"], "additionalProperties": False,
                 "properties": {"ids": _listing("ids", "id")}},
                {"type": "object", "required": ["emails"], "additionalProperties": False,
                 "properties": {"emails": _listing("emails", "email")}},
                {"type": "object", "required": ["segment"], "additionalProperties": False,
                 "properties": {"segment": {
                     "type": "object", "required": ["id"], "additionalProperties": False,
                     "properties": {"id": {"type": "integer", "minimum": 1}},
                     "description": "the segment's members when the job starts"}}},
                {"$ref": "#/components/schemas/Condition"},
            ]}),
        )
    ],
}  # fmt: skip
CAMPAIGN_TRIGGER = {
    "type": "object",
    "required": ["identifiers"],
    "additionalProperties": False,
    "properties": {
        "identifiers": IDENTIFIERS,
        "event": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "data": JSON_OBJECT},
        },
    },
}
TRACK_EVENT = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": text(EVENT_NAME_LENGTH, minLength=1), "data": JSON_OBJECT},
}
JOB = {
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

# -- segments

_SEGMENT_REF = "#/components/schemas/SegmentCondition"
_MESSAGE_REF = {
    "type": "object", "required": ["kind", "id"], "additionalProperties": False,
    "description": "a campaign's or broadcast's actions (or action_id), a newsletter's "
    "contents (or the content action_id), a transactional message (no action_id)",
    "properties": {"kind": {"enum": list(MESSAGE_KINDS)},
                   "id": {"type": "integer", "minimum": 1},
                   "action_id": {"type": ["integer", "null"], "minimum": 1}},
}  # fmt: skip
_CLICKED_LINK = {
    "type": "object", "required": ["clicked_link"], "additionalProperties": False,
    "properties": {"clicked_link": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "message": {"anyOf": [_MESSAGE_REF, {"type": "null"}],
                        "description": "absent: any message of the workspace"},
            "href": {"type": ["string", "null"], "minLength": 1, "maxLength": HREF_LENGTH,
                     "description": "* is a wildcard; case is ignored; absent: any link"},
            "human_only": {"type": "boolean", "description": "default true"},
            "since": {"type": ["number", "null"], "minimum": 0,
                      "description": "the first (human) click at or after, Unix seconds"},
            "until": {"type": ["number", "null"], "minimum": 0,
                      "description": "the first (human) click at or before, Unix seconds"},
        }}},
}  # fmt: skip
SEGMENT_CONDITION: dict[str, Any] = {
    "description": "clicked_link, an attribute test, or an and/or of conditions, nested at "
    "most 8 deep and 32 conditions in all",
    "oneOf": [
        _CLICKED_LINK,
        _ATTRIBUTE,
        *({"type": "object", "required": [op], "additionalProperties": False,
           "properties": {op: {"type": "array", "minItems": 1, "items": {"$ref": _SEGMENT_REF}}}}
          for op in ("and", "or")),
    ],
}  # fmt: skip
NEW_SEGMENT = {
    "type": "object",
    "required": ["name", "conditions"],
    "additionalProperties": False,
    "properties": {
        "name": text(NAME_LENGTH, blank=False),
        "description": text(DESCRIPTION_LENGTH),
        "conditions": {"$ref": _SEGMENT_REF},
    },
}
SEGMENT = {
    "type": "object",
    "required": ["segment"],
    "properties": {"segment": {"type": "object", "required": ["id", "name", "conditions"]}},
}
SEGMENT_COUNT = {
    "type": "object",
    "required": ["count"],
    "properties": {"count": {"type": "integer", "minimum": 0}},
}
MEMBERSHIP = {
    "type": "object",
    "required": ["identifiers", "ids", "next"],
    "properties": {
        "identifiers": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
            "cio_id": {"type": "string"}}}},
        "ids": {"type": "array", "items": {"type": ["string", "null"]}},
        "next": {"type": "string", "description": "start of the next page; empty after the last"},
    },
}  # fmt: skip

READY = {
    "type": "object",
    "required": ["ready", "failed"],
    "properties": {
        "ready": {"type": "boolean"},
        "failed": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "check (store, event_log, writer) → what is wrong",
        },
    },
}
# /healthz and /readyz: whole operations, on the tracking front rather than the API.
HEALTH = {
    "healthz": {
        "summary": "Liveness: the process answers",
        "security": [],
        "responses": {"200": {"description": "Alive", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"status": {"const": "ok"}}}}}}},
    },
    "readyz": {
        "summary": "Readiness: the store answers, the click log takes appends, the writer keeps up",
        "security": [],
        "responses": {
            "200": {"description": "Ready", "content": {"application/json": {"schema": READY}}},
            "503": {"description": "Not ready: what failed",
                    "content": {"application/json": {"schema": READY}}},
        },
    },
}  # fmt: skip


ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "meta": {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "string"},
                           "description": "the same message, on the Track API (Customer.io's)"},
            },
        }
    },
}  # fmt: skip

_WEBHOOK_FIELDS: dict[str, Any] = {
    "name": text(255, blank=False),
    "endpoint": {"type": "string", "maxLength": 2048, "pattern": ENDPOINT_PATTERN,
                 "description": "http:// or https:// URL the events are POSTed to"},
    "events": {"type": "array", "minItems": 1, "items": {"enum": list(EVENTS)},
               "description": "<channel>_<metric>: email_clicked, sms_sent, …"},
    "disabled": optional({"type": "boolean", "default": False}),
    "full_resolution": optional({"type": "boolean", "description": "accepted; always full"}),
    "with_content": optional({"type": "boolean", "description": "accepted; always with"}),
}  # fmt: skip
REPORTING_WEBHOOK = {
    "type": "object",
    "required": ["name", "endpoint", "events"],
    "additionalProperties": False,
    "properties": _WEBHOOK_FIELDS,
}
REPORTING_WEBHOOK_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "properties": _WEBHOOK_FIELDS,
}

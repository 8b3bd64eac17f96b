"""Customer.io's reporting webhook envelope, built from what a delivery is."""

from __future__ import annotations

import orjson

from linktrack.core.webhooks import EVENTS, Reported, envelope


def _delivery(kind: str, parent: int | None) -> Reported:
    return Reported("d1", 1, "email", "ada@example.com", "Hi", kind, 7, parent, "ada",
                    "ada@example.com", "c10")  # fmt: skip


def test_each_kind_names_its_ids_as_customer_io_does() -> None:
    cases = {
        "campaign": {"campaign_id": 3, "action_id": 7},
        "broadcast": {"broadcast_id": 3, "action_id": 7},
        "newsletter": {"newsletter_id": 3, "content_id": 7},
        "transactional": {"transactional_message_id": 7},
        "adhoc": {},
    }
    for kind, ids in cases.items():
        body = orjson.loads(envelope("e1", "clicked", 1767225600.7, _delivery(kind, 3),
                                     href="https://x.example/", link_id=4, machine=False,
                                     machine_reasons=[]))  # fmt: skip
        assert body["event_id"] == "e1" and body["object_type"] == "email"
        assert body["metric"] == "clicked" and body["timestamp"] == 1767225600
        data = body["data"]
        for name in ("campaign_id", "broadcast_id", "newsletter_id", "action_id", "content_id",
                     "transactional_message_id"):  # fmt: skip
            assert data.get(name) == ids.get(name), (kind, name)
        assert data["identifiers"] == {"id": "ada", "email": "ada@example.com", "cio_id": "c10"}
        assert data["customer_id"] == "ada" and data["recipient"] == "ada@example.com"
        assert (data["href"], data["link_id"], data["machine"]) == ("https://x.example/", 4, False)


def test_a_deleted_person_has_no_identifiers() -> None:
    gone = Reported("d1", 1, "sms", "+1555", "", "transactional", 7, None, None, None, None)
    data = orjson.loads(envelope("e1", "sent", 1.0, gone))["data"]
    assert data["identifiers"] is None and data["customer_id"] is None
    assert "sms_sent" in EVENTS and "in_app_clicked" in EVENTS

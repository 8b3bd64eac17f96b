"""Customer.io's email send fields at a real SMTP server: cc, bcc, reply_to, headers,
attachments, preheader, a template by name; and what a send does not use is reported."""

from __future__ import annotations

import base64
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from server import Mailbox, app_client, poll, running

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
TEMPLATE = {"name": "receipt", "subject": "Receipt {{ trigger.order }}",
            "from": "shop@example.com",
            "body": '<html><body class="x"><a href="https://shop.example/o">Order</a></body></html>'}  # fmt: skip


@pytest.fixture
def shop(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Mailbox() as mailbox, running(f"sqlite:///{tmp_path}/s.db", tmp_path,
                                       smtp_port=mailbox.port) as server:  # fmt: skip
        app = app_client(server, server.workspace()["app_api_key"])
        assert app.post("/v1/transactional", json=TEMPLATE).status_code == 201
        yield app, mailbox


def test_every_email_field_reaches_the_smtp_server(shop) -> None:  # type: ignore[no-untyped-def]
    app, mailbox = shop
    sent = app.post("/v1/send/email", json={
        "transactional_message_id": "receipt",  # by name, as Customer.io allows
        "to": "ada@example.com", "identifiers": {"id": "ada"}, "message_data": {"order": 42},
        "cc": "c1@example.com, c2@example.com", "bcc": ["hidden@example.com"],
        "reply_to": "help@example.com",
        "headers": {"X-Campaign": "spring", "List-Unsubscribe": "<https://u.example/x>"},
        "attachments": {"receipt.txt": base64.b64encode(b"total: 42").decode(),
                        "dot.png": base64.b64encode(PNG).decode()},
        "preheader": "Your receipt & more",
        "fake_bcc": True, "language": "fr",
    })  # fmt: skip
    assert sent.status_code == 200, sent.text
    ignored = [w["message"] for w in sent.json()["warnings"] if w["code"] == "field_ignored"]
    assert ignored == ["fake_bcc is not used by email sends", "language is not used by email sends"]
    (raw,) = mailbox.wait(1)
    message = BytesParser(policy=policy.default).parsebytes(raw.as_bytes())
    delivery = app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()["delivery"]
    assert delivery["subject"] == "Receipt 42", (delivery["subject"], delivery["warnings"])
    assert message["Subject"] == "Receipt 42" and message["To"] == "ada@example.com"
    assert message["Cc"] == "c1@example.com, c2@example.com"
    assert message["Bcc"] is None  # bcc is only in the envelope
    assert sorted(mailbox.recipients[0]) == sorted(
        ["ada@example.com", "c1@example.com", "c2@example.com", "hidden@example.com"]
    )
    assert message["Reply-To"] == "help@example.com"
    assert message["X-Campaign"] == "spring"
    assert message["List-Unsubscribe"] == "<https://u.example/x>"
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["receipt.txt"].get_content() == "total: 42"
    assert files["dot.png"].get_content_type() == "image/png"
    assert files["dot.png"].get_content() == PNG
    html = message.get_body(("html",)).get_content()
    assert '<body class="x"><div style="display:none;' in html
    assert "Your receipt &amp; more</div>" in html
    assert "/e/c/" in html  # the link is still tracked
    # Sent: the store keeps the attachments' names and sizes, not a copy of their bytes.
    settings = poll(lambda: app.get(f"/v1/deliveries/{sent.json()['delivery_id']}").json()
                    ["delivery"]["settings"], lambda got: "attachments_sent" in got["email"])  # fmt: skip
    assert "attachments" not in settings["email"]
    assert settings["email"]["attachments_sent"] == [
        {"name": "receipt.txt", "bytes": 9}, {"name": "dot.png", "bytes": len(PNG)}]


@pytest.mark.parametrize(("fields", "status", "said"), [
    ({"headers": {"From": "evil@example.com"}}, 422, "cannot be set"),
    ({"headers": {"Bad:Name": "x"}}, 422, "cannot be set"),
    ({"headers": {"X-A": "one\r\nBcc: evil@example.com"}}, 422, "one line"),
    ({"headers": {"X-A": 1}}, 400, "must be a string"),
    ({"attachments": {"a.txt": "not base64!"}}, 422, "not valid base64"),
    ({"attachments": {"big.bin": base64.b64encode(bytes(600 << 10)).decode()}}, 422, "512 KiB"),
    ({"attachments": {"../x": "eA=="}}, 422, "not a file name"),
    ({"cc": "not-an-address"}, 422, "email addresses"),
    ({"cc": 5}, 400, "separated by commas"),
    ({"reply_to": "a@b.example, c@d.example"}, 422, "one email address"),
    ({"transactional_message_id": "no such name"}, 404, "named"),
    ({"send_at": 1_999_999_999}, 422, "90 days"),
    ({"send_at": "tomorrow"}, 400, "send_at"),
])  # fmt: skip
def test_a_field_that_cannot_be_sent_is_refused(  # type: ignore[no-untyped-def]
    shop, fields: dict[str, object], status: int, said: str
) -> None:
    app, mailbox = shop
    body = {"transactional_message_id": "receipt", "to": "ada@example.com",
            "identifiers": {"id": "ada"}, **fields}  # fmt: skip
    refused = app.post("/v1/send/email", json=body)
    assert refused.status_code == status, refused.text
    assert said in refused.json()["meta"]["error"]
    assert mailbox.messages == []

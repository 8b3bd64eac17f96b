"""`serve --demo` fills its workspace with a labelled sample, once, and never mails it out."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from test_ui_login import log_in

from server import Mailbox, Server, app_client, poll, running

SAMPLE_PEOPLE = [f"sample-{n:02d}" for n in range(1, 13)]


def demo_keys(server: Server) -> dict[str, Any]:
    return dict(json.loads((server.data_dir / "demo-workspace.json").read_text()))


def stored_sample(app: httpx.Client) -> dict[str, Any]:
    """The sample as the API shows it, once the writer has stored its clicks (it stores
    them in one batch: every event is in the log before the writer starts)."""
    campaigns = poll(lambda: app.get("/v1/campaigns").json()["campaigns"], lambda c: len(c) == 1)
    campaign = campaigns[0]
    metrics = poll(
        lambda: app.get(f"/v1/campaigns/{campaign['id']}/metrics").json()["metric"],
        lambda m: m["clicked"] > 0,
    )
    newsletters = app.get("/v1/newsletters").json()["newsletters"]
    transactional = app.get("/v1/transactional").json()["messages"]
    return {
        "campaign": campaign,
        "metrics": metrics,
        "newsletters": newsletters,
        "transactional": transactional,
        "newsletter_metrics": app.get(f"/v1/newsletters/{newsletters[0]['id']}/metrics").json(),
        "transactional_metrics": app.get(
            f"/v1/transactional/{transactional[0]['id']}/metrics"
        ).json(),
        "outbox": len(app.get("/v1/outbox", params={"limit": 500}).json()["deliveries"]),
        "clicks": {p: clicks_of(app, p) for p in SAMPLE_PEOPLE},
    }


def clicks_of(app: httpx.Client, person: str) -> list[dict[str, Any]]:
    found = app.get(f"/v1/customers/{person}/activities", params={"type": "clicked"})
    assert found.status_code == 200, found.text
    return list(found.json()["activities"])


def test_demo_sample_is_made_once_through_the_real_paths(db_url: str, tmp_path: Path) -> None:
    with running(db_url, tmp_path, demo=True) as server:
        app = app_client(server, demo_keys(server)["app_api_key"])
        first = stored_sample(app)
        person = app.get("/v1/customers/sample-03").json()
        keys = demo_keys(server)
        with httpx.Client(base_url=server.url, timeout=30) as browser:
            assert log_in(browser, keys["email"], keys["password"]).status_code == 303
            messages = browser.get("/ui/messages").text  # the dashboard's first look
    for name in ("Sample: Welcome series (demo data)", "Sample: Monthly product news (demo data)",
                 "Sample: Password reset (demo data)"):  # fmt: skip
        assert name in messages, messages
    campaign = first["campaign"]
    assert campaign["name"] == "Sample: Welcome series (demo data)"
    assert [a["name"] for a in campaign["actions"]] == [
        "Sample: Welcome (demo data)", "Sample: First-week tips (demo data)",
    ]  # fmt: skip
    (newsletter,) = first["newsletters"]
    assert newsletter["name"] == "Sample: Monthly product news (demo data)"
    assert len(newsletter["contents"]) == 1
    assert [m["name"] for m in first["transactional"]] == ["Sample: Password reset (demo data)"]
    # 12 people × 2 actions; a newsletter to 12; 6 resets: all in the outbox, none sent out.
    metrics = first["metrics"]
    assert metrics["sent"] == 24 and metrics["queued"] == 0
    assert 0 < metrics["human_clicked"] < metrics["clicked"] and metrics["opened"] > 0
    assert first["outbox"] == 24 + 12 + 6
    for other in ("newsletter_metrics", "transactional_metrics"):
        got = first[other]["metric"]
        assert 0 < got["human_clicked"] < got["clicked"] and got["opened"] > 0, (other, got)
    assert person["customer"]["attributes"]["city"] == "Singapore", person
    clicks = [c for found in first["clicks"].values() for c in found]
    reasons = {r for c in clicks for r in c["machine_reasons"] or []}
    # The writer's own rules judged them: a HEAD, a scanner's user agent, a click in transit.
    assert {"head_request", "bot_user_agent", "too_fast"} <= reasons, reasons
    assert any(not c["machine"] for c in clicks)
    several = [p for p, found in first["clicks"].items()
               if len({c["link_id"] for c in found if not c["machine"]}) > 1]  # fmt: skip
    assert len(several) >= 3, first["clicks"]
    # Dated over the last days, each after its send: the report's chart has a shape.
    days = {int(c["timestamp"] // 86400) for c in clicks if not c["machine"]}
    assert len(days) >= 3 and max(c["timestamp"] for c in clicks) < time.time(), days

    with running(db_url, tmp_path, demo=True) as again:
        app = app_client(again, demo_keys(again)["app_api_key"])
        assert demo_keys(again)["id"] == demo_keys(server)["id"]
        time.sleep(2)  # a second sample would have been stored by now
        second = stored_sample(app)
    assert second == first


def test_demo_sample_never_reaches_the_smtp_relay(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/linktrack.db"
    with Mailbox() as mailbox, running(db, tmp_path, smtp_port=mailbox.port,
                                       demo=True) as server:  # fmt: skip
        app = app_client(server, demo_keys(server)["app_api_key"])
        sample = stored_sample(app)
        assert sample["outbox"] == 42
        # The relay works: a send of the README's kind arrives, and it alone.
        sent = app.post("/v1/send/email", json={
            "to": "ada@example.com", "from": "team@example.com",
            "identifiers": {"email": "ada@example.com"}, "subject": "Hello", "body": "<p>Hi</p>",
        })  # fmt: skip
        assert sent.status_code == 200, sent.text
        (mail,) = mailbox.wait(1)
        time.sleep(1)
    assert mail["To"] == "ada@example.com"
    assert [m["To"] for m in mailbox.messages] == ["ada@example.com"]

"""The webhook transport against a real HTTP receiver on loopback, and its retries."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from linktrack.adapters import store
from linktrack.adapters.store import make_engine, migrate
from linktrack.adapters.transports.base import TransportError
from linktrack.adapters.transports.webhook import WebhookTransport, signature
from linktrack.bootstrap import Config, transports
from linktrack.core import model
from linktrack.service.delivery import DeliveryWorker, webhook_transport
from sink import WebhookSink


def test_a_signed_json_post() -> None:
    with WebhookSink("s3cret") as sink:
        WebhookTransport(sink.url, "s3cret", clock=lambda: 1_700_000_000).post(
            {"delivery_id": "d1", "body": "Hi ✓"}
        )
        (got,) = sink.wait(1)
    assert got.path == "/hooks/messages"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-linktrack-timestamp"] == "1700000000"
    assert got.json == {"delivery_id": "d1", "body": "Hi ✓"}
    assert sink.verified(got)
    assert got.headers["x-linktrack-signature"] == signature("s3cret", "1700000000", got.body)


@pytest.mark.parametrize(
    ("status", "permanent"), [(500, False), (503, False), (429, False), (400, True), (404, True)]
)
def test_failures_are_transport_errors(status: int, permanent: bool) -> None:
    with WebhookSink(statuses=[status]) as sink, pytest.raises(TransportError) as caught:
        WebhookTransport(sink.url, sink.secret).post({"x": 1})
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in str(caught.value) and "refused by the sink" in str(caught.value)


def test_an_unreachable_webhook_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(TransportError) as caught:
        WebhookTransport(f"http://127.0.0.1:{port}/x", "s", timeout=2).post({})
    assert not caught.value.permanent and "unreachable" in str(caught.value)


def test_configuration() -> None:
    with pytest.raises(ValueError, match="https://host"):
        WebhookTransport("ftp://x/", "s")
    with pytest.raises(ValueError, match="secret"):
        WebhookTransport("https://x/", "")
    config = Config(webhook_url="https://hooks.example/x", webhook_secret="s")
    assert set(transports(config)) == {"sms", "whatsapp", "push"}  # in-app: the outbox
    env = Config.from_env(
        {"LINKTRACK_WEBHOOK_URL": "https://h/x", "LINKTRACK_WEBHOOK_SECRET": "k",
         "LINKTRACK_DELIVERY_BACKOFF": "0.5"}
    )  # fmt: skip
    assert (env.webhook_url, env.webhook_secret, env.delivery_backoff) == ("https://h/x", "k", 0.5)
    assert Config.from_env(env.to_env()) == env


def _queued(tmp_path: Path, channel: str = "sms") -> tuple[object, str, int]:
    url = f"sqlite:///{tmp_path}/w.db"
    migrate(url)
    engine = make_engine(url)
    ws = store.create_workspace(engine, "w")
    message = store.create_message(engine, ws.id, kind="transactional", channel=channel)
    delivery = store.create_delivery(
        engine,
        workspace_id=ws.id,
        message_id=message.id,
        channel=channel,
        recipient="+15550100",
        body="Your code ships: https://l.example/e/c/x/y",
        subject="Shipped" if channel == "push" else "",
        settings={"push": {"link": "app://orders/1", "image_url": None, "custom_data": {"a": 1}}},
    )
    return engine, delivery, ws.id


def _run_until_settled(
    worker: DeliveryWorker, engine: object, ws_id: int, delivery: str
) -> model.Delivery:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        worker.run_once()
        found = store.get_delivery(engine, ws_id, delivery)  # type: ignore[arg-type]
        assert found is not None
        if found.status != "queued":
            return found
        time.sleep(0.02)
    raise AssertionError("the delivery stayed queued")


def test_500_twice_then_200_is_sent_after_backoff(tmp_path: Path) -> None:
    engine, delivery, ws_id = _queued(tmp_path)
    with WebhookSink(statuses=[500, 500]) as sink:
        hook = webhook_transport(WebhookTransport(sink.url, sink.secret))
        worker = DeliveryWorker(engine, {"sms": hook}, backoff=0.2)  # type: ignore[arg-type]
        started = time.monotonic()
        worker.run_once()
        retrying = store.get_delivery(engine, ws_id, delivery)  # type: ignore[arg-type]
        assert retrying is not None and retrying.status == "queued"
        assert retrying.error is not None and "HTTP 500" in retrying.error
        found = _run_until_settled(worker, engine, ws_id, delivery)
        elapsed = time.monotonic() - started
    assert found.status == "sent" and found.error is None
    assert [r.status for r in sink.received] == [500, 500, 200]
    assert elapsed >= 0.2 + 0.4  # backoff doubles: 0.2 s, then 0.4 s
    assert all(sink.verified(r) for r in sink.received)
    assert sink.received[-1].json["body"] == "Your code ships: https://l.example/e/c/x/y"
    assert sink.received[-1].json["delivery_id"] == delivery


def test_400_fails_at_once_with_the_error_on_the_delivery(tmp_path: Path) -> None:
    engine, delivery, ws_id = _queued(tmp_path)
    with WebhookSink(statuses=[400]) as sink:
        hook = webhook_transport(WebhookTransport(sink.url, sink.secret))
        worker = DeliveryWorker(engine, {"sms": hook}, backoff=0.2)  # type: ignore[arg-type]
        found = _run_until_settled(worker, engine, ws_id, delivery)
    assert found.status == "failed"
    assert found.error == 'webhook answered HTTP 400: {"error":"refused by the sink"}'
    assert len(sink.received) == 1


def test_push_document(tmp_path: Path) -> None:
    engine, delivery, ws_id = _queued(tmp_path, "push")
    with WebhookSink() as sink:
        hook = webhook_transport(WebhookTransport(sink.url, sink.secret))
        worker = DeliveryWorker(engine, {"push": hook})  # type: ignore[arg-type]
        assert _run_until_settled(worker, engine, ws_id, delivery).status == "sent"
        (got,) = sink.accepted()
    doc = got.json
    assert doc["channel"] == "push" and doc["title"] == "Shipped"
    assert doc["link"] == "app://orders/1" and doc["custom_data"] == {"a": 1}
    assert doc["to"] == "+15550100" and doc["delivery_id"] == delivery


def test_serve_takes_a_webhook_and_requires_its_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from linktrack.entrypoints import cli
    from linktrack.entrypoints.cli.common import config_from_args

    monkeypatch.delenv("LINKTRACK_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("LINKTRACK_WEBHOOK_URL", raising=False)
    args = cli.build_parser().parse_args(["serve", "--webhook", "https://hooks.example/sms"])
    assert config_from_args(args).webhook_url == "https://hooks.example/sms"
    code = cli.main(["serve", "--webhook", "https://hooks.example/sms",
                     "--db", f"sqlite:///{tmp_path}/x.db"])  # fmt: skip
    assert code == 2 and "LINKTRACK_WEBHOOK_SECRET" in capsys.readouterr().err

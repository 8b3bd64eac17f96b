"""The one place that wires adapters and services together from configuration."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from linktrack.adapters import eventlog, scanner_networks, store
from linktrack.adapters.eventlog import EventLog
from linktrack.adapters.transports.smtp import SmtpTransport
from linktrack.adapters.transports.webhook import WebhookTransport
from linktrack.core.model import NewWorkspace
from linktrack.service.accounts import Accounts
from linktrack.service.bulk_sends import BulkSends
from linktrack.service.campaigns import Campaigns
from linktrack.service.clicks import ClickRules
from linktrack.service.containers import Containers
from linktrack.service.delivery import (
    DeliveryWorker,
    Transport,
    email_transport,
    webhook_transport,
)
from linktrack.service.keys import KeyStore
from linktrack.service.progress import writer_status
from linktrack.service.reporting import ReportingDispatcher
from linktrack.service.sdk_events import SdkEvents
from linktrack.service.sending import Sender
from linktrack.service.shortlinks import ShortLinks
from linktrack.service.writer import Writer

log = logging.getLogger("linktrack")

DEFAULT_DB = "sqlite:///linktrack.db"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")  # json: one JSON object per line


@dataclass(frozen=True, slots=True)
class Config:
    """Settings of one process, from `LINKTRACK_*` environment variables."""

    db_url: str = DEFAULT_DB
    data_dir: Path = Path("linktrack-data")
    public_url: str = "http://127.0.0.1:8080"
    smtp_url: str | None = None
    event_log: str = "file"  # "file" (embedded) or "redis" (scale-out)
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_stream: str = "linktrack:events"
    embedded_workers: bool = True  # run the event writer and delivery worker in this process
    trust_proxy: bool = False
    key_reload_seconds: float = 5.0
    # SMS, WhatsApp and push go to this provider webhook (signed with the secret);
    # without one they wait in the outbox. In-app messages always do (see README).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    delivery_backoff: float = 2.0  # seconds before the first retry; doubles each time
    # The writer beside serve: "idle" (SCHED_IDLE: idle CPU only) or a nice value
    # 0-19; nice 10 still gets ~10 % of a core that a busy process holds.
    writer_priority: str = "10"
    max_writer_lag: float = 60.0  # seconds behind the click log before the writer is "behind"
    metrics_addr: str | None = None  # host:port of the Prometheus endpoint; None: none
    log_level: str = "info"  # one of LOG_LEVELS
    log_format: str = "text"  # one of LOG_FORMATS
    access_log: bool = True  # one line per request answered, at info
    tls_cert: str | None = None  # PEM certificate chain: serve speaks HTTPS with it
    tls_key: str | None = None  # its private key (PEM)
    # The published scanner networks (a file an operator keeps); None: the shipped list.
    scanner_networks: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        base = cls()
        return cls(
            db_url=env.get("LINKTRACK_DB", base.db_url),
            data_dir=Path(env.get("LINKTRACK_DATA_DIR", str(base.data_dir))),
            public_url=env.get("LINKTRACK_PUBLIC_URL", base.public_url),
            smtp_url=env.get("LINKTRACK_SMTP_URL") or None,
            event_log=env.get("LINKTRACK_EVENT_LOG", base.event_log),
            redis_url=env.get("LINKTRACK_REDIS_URL", base.redis_url),
            redis_stream=env.get("LINKTRACK_REDIS_STREAM", base.redis_stream),
            embedded_workers=env.get("LINKTRACK_EMBEDDED_WORKERS", "1") != "0",
            trust_proxy=env.get("LINKTRACK_TRUST_PROXY", "0") == "1",
            webhook_url=env.get("LINKTRACK_WEBHOOK_URL") or None,
            webhook_secret=env.get("LINKTRACK_WEBHOOK_SECRET") or None,
            delivery_backoff=float(
                env.get("LINKTRACK_DELIVERY_BACKOFF", str(base.delivery_backoff))
            ),
            writer_priority=_writer_priority(
                env.get("LINKTRACK_WRITER_PRIORITY", base.writer_priority)
            ),
            max_writer_lag=_positive(
                "LINKTRACK_MAX_WRITER_LAG", env.get("LINKTRACK_MAX_WRITER_LAG"), base.max_writer_lag
            ),
            metrics_addr=parse_address(env.get("LINKTRACK_METRICS_ADDR") or None),
            log_level=_choice("LINKTRACK_LOG_LEVEL", env, base.log_level, LOG_LEVELS),
            log_format=_choice("LINKTRACK_LOG_FORMAT", env, base.log_format, LOG_FORMATS),
            access_log=_choice("LINKTRACK_ACCESS_LOG", env, "1", ("0", "1")) == "1",
            tls_cert=env.get("LINKTRACK_TLS_CERT") or None,
            tls_key=env.get("LINKTRACK_TLS_KEY") or None,
            scanner_networks=env.get("LINKTRACK_SCANNER_NETWORKS") or None,
        )

    def to_env(self) -> dict[str, str]:
        env = {
            "LINKTRACK_DB": self.db_url,
            "LINKTRACK_DATA_DIR": str(self.data_dir),
            "LINKTRACK_PUBLIC_URL": self.public_url,
            "LINKTRACK_EVENT_LOG": self.event_log,
            "LINKTRACK_REDIS_URL": self.redis_url,
            "LINKTRACK_REDIS_STREAM": self.redis_stream,
            "LINKTRACK_EMBEDDED_WORKERS": "1" if self.embedded_workers else "0",
            "LINKTRACK_TRUST_PROXY": "1" if self.trust_proxy else "0",
        }
        if self.smtp_url:
            env["LINKTRACK_SMTP_URL"] = self.smtp_url
        if self.webhook_url:
            env["LINKTRACK_WEBHOOK_URL"] = self.webhook_url
        if self.webhook_secret:
            env["LINKTRACK_WEBHOOK_SECRET"] = self.webhook_secret
        env["LINKTRACK_DELIVERY_BACKOFF"] = str(self.delivery_backoff)
        env["LINKTRACK_WRITER_PRIORITY"] = self.writer_priority
        env["LINKTRACK_MAX_WRITER_LAG"] = str(self.max_writer_lag)
        if self.metrics_addr:
            env["LINKTRACK_METRICS_ADDR"] = self.metrics_addr
        env["LINKTRACK_LOG_LEVEL"] = self.log_level
        env["LINKTRACK_LOG_FORMAT"] = self.log_format
        env["LINKTRACK_ACCESS_LOG"] = "1" if self.access_log else "0"
        if self.scanner_networks:
            env["LINKTRACK_SCANNER_NETWORKS"] = self.scanner_networks
        if self.tls_cert and self.tls_key:
            env["LINKTRACK_TLS_CERT"], env["LINKTRACK_TLS_KEY"] = self.tls_cert, self.tls_key
        return env

    def default_workspace_settings(self) -> dict[str, Any]:
        """New workspaces track through this server until a tracking domain is set."""
        parts = urlsplit(self.public_url)
        return {"tracking_domain": parts.netloc, "tracking_https": parts.scheme == "https"}


def _writer_priority(value: str) -> str:
    value = value.strip().lower()
    if value == "idle" or (value.isascii() and value.isdigit() and int(value) <= 19):
        return value
    raise ValueError(
        f"LINKTRACK_WRITER_PRIORITY must be 'idle' or a nice value 0-19, not {value!r}"
    )


def _choice(name: str, env: dict[str, str], default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def parse_address(value: str | None) -> str | None:
    """host:port (the metrics endpoint's), checked; None stays None."""
    if value is None:
        return None
    port = value.rpartition(":")[2]
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(
            f"the metrics address (--metrics, LINKTRACK_METRICS_ADDR) must be host:port, "
            f"not {value!r}"
        )
    return value


def _positive(name: str, value: str | None, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return number


def make_event_log(config: Config, *, appender: bool = True) -> EventLog:
    """The click log; a consumer beside the HTTP process opens the file log read-only."""
    if config.event_log == "redis":
        return eventlog.RedisStreamEventLog(config.redis_url, config.redis_stream)
    if config.event_log == "file":
        return eventlog.FileEventLog(
            config.data_dir / "events", readonly=not appender, sole_reader=not appender
        )
    raise ValueError(f"LINKTRACK_EVENT_LOG must be 'file' or 'redis', not {config.event_log!r}")


@dataclass
class Services:
    """Everything a process needs, built once by `build`."""

    config: Config
    engine: store.Engine
    keys: KeyStore
    sender: Sender
    event_log: EventLog
    shortlinks: ShortLinks
    containers: Containers
    campaigns: Campaigns
    bulk_sends: BulkSends
    sdk_events: SdkEvents
    clicks: ClickRules
    accounts: Accounts
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """Start background work: the event writer, delivery worker and key refresh."""
        if self.config.embedded_workers:
            for name, target in self.background():
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        keys_thread = threading.Thread(target=self._refresh_keys, name="keys", daemon=True)
        keys_thread.start()
        self._threads.append(keys_thread)

    @property
    def writer_name(self) -> str:
        """The consumer this process's log is stored under."""
        # Each kind of log keeps its own checkpoint: one's position means nothing to the other.
        kind = self.config.event_log
        return "writer" if kind == "file" else f"writer:{kind}"

    def writer(self) -> Writer:
        """The event writer of this process's log."""
        return Writer(
            self.engine,
            self.event_log,
            self.writer_name,
            max_lag=self.config.max_writer_lag,
            networks=scanner_networks.load(self.config.scanner_networks),
        )

    def writer_status(self) -> dict[str, Any]:
        """The writer's state as it last saved it (`service.progress`)."""
        rows = store.writer_progress(self.engine)
        return writer_status(rows, self.writer_name, self.config.max_writer_lag, time.time())

    def background(self) -> list[tuple[str, Callable[[], None]]]:
        """(name, callable(stop)) pairs: what `linktrack consume` runs standalone."""
        writer = self.writer()
        writer.check_checkpoint()
        worker = DeliveryWorker(
            self.engine, transports(self.config), backoff=self.config.delivery_backoff
        )
        reporting = ReportingDispatcher(self.engine, backoff=self.config.delivery_backoff)
        return [
            ("event-writer", lambda: writer.run_forever(self._stop)),
            ("delivery", lambda: worker.run_forever(self._stop)),
            ("reporting", lambda: reporting.run_forever(self._stop)),
        ]

    def _refresh_keys(self) -> None:
        while not self._stop.wait(self.config.key_reload_seconds):
            try:
                self.keys.reload()
            except Exception:  # the old keys keep working; try again next round
                log.exception("reloading signing keys failed")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.event_log.close()
        self.engine.dispose()


WEBHOOK_CHANNELS = ("sms", "whatsapp", "push")


def transports(config: Config) -> dict[str, Transport]:
    """channel → transport. In-app has none: the app's SDK fetches it (outbox)."""
    out: dict[str, Transport] = {}
    if config.smtp_url:
        out["email"] = email_transport(SmtpTransport(config.smtp_url))
    if config.webhook_url:
        hook = webhook_transport(WebhookTransport(config.webhook_url, config.webhook_secret or ""))
        out.update((channel, hook) for channel in WEBHOOK_CHANNELS)
    return out


def build(config: Config, *, appender: bool = True) -> Services:
    """Connect to the store (migrating it) and assemble the services.

    `appender=False` for a consumer process: it reads the click log the HTTP
    process appends to.
    """
    engine = store.make_engine(config.db_url)
    store.migrate(engine)
    keys, shortlinks, sender = senders(config, engine)
    containers = Containers(engine)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    event_log = make_event_log(config, appender=appender)
    return Services(
        config,
        engine,
        keys,
        sender,
        event_log,
        shortlinks=shortlinks,
        containers=containers,
        campaigns=Campaigns(containers, sender),
        bulk_sends=BulkSends(containers, sender),
        sdk_events=SdkEvents(engine, event_log),
        clicks=ClickRules(keys, trust_proxy=config.trust_proxy),
        accounts=Accounts(engine),
    )


def senders(
    config: Config, engine: store.Engine, *, clock: Callable[[], float] = time.time
) -> tuple[KeyStore, ShortLinks, Sender]:
    """The signing keys, short links and Sender of a process that composes messages.

    Deliveries are queued for the delivery worker when a transport is configured
    for their channel, else they go to the outbox. `clock` dates the deliveries.
    """
    keys = KeyStore(engine)
    shortlinks = ShortLinks(engine)
    has_transport = {channel: True for channel in transports(config)}
    sender = Sender(engine, keys, has_transport=has_transport, shortlinks=shortlinks, clock=clock)
    return keys, shortlinks, sender


def create_workspace(config: Config, name: str) -> NewWorkspace:
    engine = store.make_engine(config.db_url)
    try:
        store.migrate(engine)
        return store.create_workspace(engine, name, config.default_workspace_settings())
    finally:
        engine.dispose()

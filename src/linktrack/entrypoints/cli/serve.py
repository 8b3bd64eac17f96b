"""`linktrack serve | consume`: the HTTP server with its writer beside it, or the writer alone."""

from __future__ import annotations

import argparse
import json
import os
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from linktrack.adapters.eventlog import EventLogError
from linktrack.entrypoints.cli.common import (
    ENVIRONMENT,
    CliError,
    add_log_options,
    add_service_options,
    check_data_dir,
    check_scanner_networks,
    config_from_args,
)
from linktrack.entrypoints.cli.supervisor import WriterProcess, watch_parent

if TYPE_CHECKING:
    import socket

    import uvicorn

    from linktrack.bootstrap import Config


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the whole system with one command: API, tracking endpoints, writer, delivery."""
    from sqlalchemy.exc import SQLAlchemyError

    from linktrack.adapters.store import make_engine, migrate

    config = config_from_args(args)
    if not args.public_url and not os.environ.get("LINKTRACK_PUBLIC_URL"):
        scheme = "https" if config.tls_cert else "http"
        config = replace(config, public_url=f"{scheme}://{args.host}:{args.port}")
    if config.webhook_url and not config.webhook_secret:
        raise CliError("a webhook needs LINKTRACK_WEBHOOK_SECRET: receivers verify signatures")
    _check_tls(config)
    check_data_dir(config)
    check_scanner_networks(config)
    _check_port(args.host, args.port)
    engine = make_engine(config.db_url)
    try:
        migrate(engine)  # once, here: workers then start on a current schema
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc  # the driver's message, without SQL
        raise CliError(f"cannot open the store {config.db_url}: {reason}") from None
    finally:
        engine.dispose()
    if args.demo:
        demo = _demo_workspace(config)
        print(_demo_text(config.public_url, demo), flush=True)
    os.environ.update(config.to_env())
    # The event writer and delivery worker run in their own process: in the
    # HTTP worker they would contend for the GIL with the click path (measured:
    # p50 11 ms instead of 0.5 ms at 1,500 clicks/s).
    os.environ["LINKTRACK_EMBEDDED_WORKERS"] = "0"
    stopping = threading.Event()  # set by the first SIGTERM/SIGINT
    server = _http_server(args, stopping)
    writer = WriterProcess(os.environ.copy(), stopping) if config.embedded_workers else None
    print(f"linktrack: serving on {config.public_url} (store: {config.db_url})", flush=True)
    try:
        server.run()  # drains the connections and commits the click log, then returns
    finally:
        if writer is not None:
            writer.stop()
    return 0


def _check_tls(config: Config) -> None:
    """Both halves of the TLS pair or neither, and a pair that loads: a clear error now,
    not a traceback from uvicorn."""
    import ssl

    if bool(config.tls_cert) != bool(config.tls_key):
        raise CliError("HTTPS needs both --tls-cert and --tls-key (LINKTRACK_TLS_CERT, _KEY)")
    if not config.tls_cert:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            config.tls_cert, config.tls_key
        )
    except (OSError, ssl.SSLError) as exc:
        raise CliError(
            f"cannot load the TLS certificate {config.tls_cert} with key {config.tls_key}: {exc}"
        ) from None


def _check_port(host: str, port: int) -> None:
    """A clear error before anything starts when the port is taken (uvicorn would say so
    only after the store is migrated and the writer started)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = f"{exc.strerror} (another linktrack, or another server, holds it)"
            raise CliError(f"cannot listen on {host}:{port}: {why}") from None


def uvicorn_config(args: argparse.Namespace) -> uvicorn.Config:
    """uvicorn as serve runs it: ClickProtocol answers clicks, the front the rest."""
    import uvicorn

    from linktrack.entrypoints.http.click_protocol import ClickProtocol

    return uvicorn.Config(
        "linktrack.entrypoints.http.front:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        # uvloop: the click path spends much of its time in the event loop, and
        # asyncio's own loop answered fewer clicks a second in every comparison run.
        loop="uvloop",
        http=ClickProtocol,
        ws="none",
        lifespan="on",
        interface="asgi3",
        # X-Forwarded-For is read by the front itself, only when trusted.
        proxy_headers=False,
        server_header=False,
        # The access log is linktrack's own (entrypoints/http/access.py): uvicorn's
        # sees no fast-path click, and costs a LogRecord per request. Its other
        # lines go to the root logger that logs.configure set up.
        access_log=False,
        log_config=None,
        log_level=os.environ.get("LINKTRACK_LOG_LEVEL", "info"),  # cmd_serve sets it
        # HTTPS: the same ClickProtocol answers clicks, behind asyncio's TLS transport.
        ssl_certfile=os.environ.get("LINKTRACK_TLS_CERT") or None,
        ssl_keyfile=os.environ.get("LINKTRACK_TLS_KEY") or None,
        backlog=2048,
    )


def require_fast_path(config: uvicorn.Config) -> None:
    """Load the app; CliError unless ClickProtocol finds the front in it (not wrapped)."""
    from linktrack.entrypoints.http.click_protocol import installed_front

    if installed_front(config) is None:
        raise CliError(
            "the click fast path cannot be installed: uvicorn wrapped the app in "
            f"{type(config.loaded_app).__name__} (proxy headers or trace logging on), "
            "so every click would take the slow path"
        )


def _http_server(args: argparse.Namespace, stopping: threading.Event) -> uvicorn.Server:
    """uvicorn, its app loaded and its click fast path checked, ready to run."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn that says when a signal stops it, and does not raise the signal again
        once it has shut down: serve still has its writer to stop."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            stopping.set()
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self.config.ssl is not None:
                _abort_tls_closes(self.server_state.connections, set())
            await super().shutdown(sockets)

    config = uvicorn_config(args)
    require_fast_path(config)
    return Server(config)


TLS_CLOSE_GRACE = 1.0  # seconds a closing TLS connection may wait for the peer's close_notify


def _abort_tls_closes(connections: set[Any], seen: set[int]) -> None:
    """While serve stops, abort TLS connections that have been closing for a grace period.

    Closing a TLS connection waits for the peer's close_notify, up to 30 s; a
    client idle in a pool (requests, httpx) never reads it, so each of its idle
    connections would hold the stop for the whole 30 s. An idle HTTP/1.1
    connection may be dropped (clients retry on a new one); one with a request
    in flight is not closing yet, so it is not touched.
    """
    import asyncio

    closing = {id(c) for c in connections if c.transport is not None and c.transport.is_closing()}
    for connection in list(connections):
        if id(connection) in seen and id(connection) in closing:
            connection.transport.abort()
    if connections:
        asyncio.get_running_loop().call_later(
            TLS_CLOSE_GRACE, _abort_tls_closes, connections, closing
        )


def _background_priority(priority: str) -> None:
    """The writer's CPU priority: a nice value, so that it keeps a share of a busy core
    (nice 10: ~10 % against one nice-0 process), or "idle" (SCHED_IDLE where the OS
    has it: idle CPU only, so under sustained load it may fall behind without bound)."""
    if priority == "idle":
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
        except (AttributeError, OSError):
            priority = "19"
    os.setpriority(os.PRIO_PROCESS, 0, max(int(priority), os.getpriority(os.PRIO_PROCESS, 0)))


def cmd_consume(args: argparse.Namespace) -> int:
    """Scale-out: run the event writer and delivery worker without HTTP."""
    import signal
    from dataclasses import replace

    from linktrack.bootstrap import build

    config = replace(config_from_args(args), embedded_workers=True)
    if args.background:
        _background_priority(config.writer_priority)
    if args.redis:
        config = replace(config, event_log="redis", redis_url=args.redis)
    check_data_dir(config)
    check_scanner_networks(config)
    try:
        services = build(config, appender=False)
    except EventLogError as exc:  # another writer holds the click log
        raise CliError(f"the event writer cannot start: {exc}") from None
    if args.replay:
        services.writer().reset_checkpoint(None)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    watch_parent(done.set)  # a writer serve started stops when serve is gone
    try:
        services.start()
    except EventLogError as exc:  # a checkpoint another kind of log wrote, say
        services.stop()
        raise CliError(f"the event writer cannot start: {exc}") from None
    print(f"linktrack: consuming {config.event_log} events into {config.db_url}", flush=True)
    done.wait()
    services.stop()
    return 0


DEMO_EMAIL = "demo@example.com"


def _demo_workspace(config: Config) -> dict[str, Any]:
    """The demo workspace: its keys, a dashboard login and a sample to look at (made once,
    before the writer starts, and remembered in the data dir)."""
    import secrets

    from linktrack.adapters import store
    from linktrack.bootstrap import create_workspace
    from linktrack.entrypoints.cli.demo import fill_demo
    from linktrack.service.accounts import Accounts

    remembered = Path(config.data_dir) / "demo-workspace.json"
    engine = store.make_engine(config.db_url)
    try:
        if remembered.exists():
            known = json.loads(remembered.read_text(encoding="utf-8"))
            live = store.workspace_by_api_key(engine, "app", str(known["app_api_key"]))
            if live is not None and "password" in known:
                return dict(known)
        demo = create_workspace(config, "Demo")
        password = secrets.token_urlsafe(12)
        accounts = Accounts(engine)
        found = store.user_by_email(engine, DEMO_EMAIL)
        email = DEMO_EMAIL if found is None else f"demo-{demo.id}@example.com"
        accounts.create(demo.id, email, password)
        # Before it is remembered: a start that fails while filling makes a new one next time.
        fill_demo(config, demo.id)
        known = {
            "id": demo.id,
            "site_id": demo.site_id,
            "app_api_key": demo.app_api_key,
            "track_api_key": demo.track_api_key,
            "email": email,
            "password": password,
        }
        remembered.parent.mkdir(parents=True, exist_ok=True)
        remembered.write_text(json.dumps(known), encoding="utf-8")
        return known
    finally:
        engine.dispose()


def _demo_text(url: str, demo: dict[str, Any]) -> str:
    app_key = demo["app_api_key"]
    return f"""
A demo workspace is ready, with a sample to look at: campaign, newsletter and transactional
message named "Sample: … (demo data)", sent to 12 sample people days ago, with their clicks.

The dashboard: {url}/ui/  (log in as {demo["email"]}, password {demo["password"]})

Its App API key: {app_key}

Send a first tracked email (it lands in the outbox: no SMTP relay is configured):

  curl -s {url}/v1/send/email -H 'Authorization: Bearer {app_key}' \\
    -H 'Content-Type: application/json' -d '{{
      "to": "ada@example.com", "from": "team@example.com",
      "identifiers": {{"email": "ada@example.com"}},
      "subject": "Hello {{{{ customer.email }}}}",
      "body": "<html><body><a href=\\"https://example.com/welcome\\">Welcome</a></body></html>"
    }}'

Then read it, with its tracked links:

  curl -s {url}/v1/deliveries/<delivery_id> -H 'Authorization: Bearer {app_key}'
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `serve` and `consume` commands."""
    serve = sub.add_parser(
        "serve", help="run API, tracking endpoints and workers", epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_service_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    serve.add_argument("--smtp", help="SMTP relay URL, e.g. smtp://127.0.0.1:2525")
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve HTTPS with this PEM certificate chain (LINKTRACK_TLS_CERT)",
    )
    serve.add_argument("--tls-key", metavar="FILE",
                       help="the certificate's PEM private key (LINKTRACK_TLS_KEY)")  # fmt: skip
    serve.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve Prometheus metrics there, e.g. 127.0.0.1:9464 (LINKTRACK_METRICS_ADDR)",
    )
    serve.add_argument(
        "--webhook",
        help="provider webhook for SMS, WhatsApp and push (secret: LINKTRACK_WEBHOOK_SECRET)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="create a demo workspace and say how to use it"
    )
    add_log_options(serve, access=True)
    serve.set_defaults(func=cmd_serve)

    consume = sub.add_parser(
        "consume", help="scale-out: event writer + delivery, no HTTP", epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_service_options(consume)
    consume.add_argument("--smtp", help="SMTP relay URL")
    consume.add_argument("--webhook", help="provider webhook for SMS, WhatsApp and push")
    consume.add_argument("--redis", help="consume the Redis stream at this URL")
    consume.add_argument(
        "--background",
        action="store_true",
        help="run at the writer's lower CPU priority (LINKTRACK_WRITER_PRIORITY: "
        "a nice value, default 10, or 'idle')",
    )
    consume.add_argument(
        "--replay",
        action="store_true",
        help="store the click log again from its oldest segment (nothing is counted twice)",
    )
    add_log_options(consume, access=False)
    consume.set_defaults(func=cmd_consume)

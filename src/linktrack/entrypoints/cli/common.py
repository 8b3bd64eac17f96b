"""What every `linktrack` command shares: its error, the store options, the configuration."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linktrack.bootstrap import Config


class CliError(Exception):
    """A problem the user can fix: printed without a traceback, exit 2."""


ENVIRONMENT = """\
environment (an option given wins; README, "Running the service", has the table):
  LINKTRACK_DB                  the store URL (sqlite:///linktrack.db)
  LINKTRACK_DATA_DIR            the durable click log (linktrack-data)
  LINKTRACK_PUBLIC_URL          where this server is reached
  LINKTRACK_SMTP_URL            the email relay (none: the outbox)
  LINKTRACK_WEBHOOK_URL         the provider webhook for SMS, WhatsApp and push
  LINKTRACK_WEBHOOK_SECRET      its HMAC secret (required with a webhook)
  LINKTRACK_DELIVERY_BACKOFF    seconds before a failed delivery's or webhook event's retry (2)
  LINKTRACK_EVENT_LOG           file or redis (file)
  LINKTRACK_REDIS_URL           the Redis of the click log (redis://127.0.0.1:6379/0)
  LINKTRACK_REDIS_STREAM        its stream (linktrack:events)
  LINKTRACK_EMBEDDED_WORKERS    0: this node answers HTTP only (1)
  LINKTRACK_TRUST_PROXY         1: the client IP is the first of X-Forwarded-For (0)
  LINKTRACK_WRITER_PRIORITY     the writer's CPU priority: nice 0-19 or idle (10)
  LINKTRACK_MAX_WRITER_LAG      seconds behind before the writer is "behind" (60)
  LINKTRACK_SCANNER_NETWORKS    a file of mail-scanner networks, one CIDR a line (shipped list)
  LINKTRACK_METRICS_ADDR        host:port of the Prometheus endpoint (none)
  LINKTRACK_LOG_LEVEL           debug, info, warning or error (info)
  LINKTRACK_LOG_FORMAT          text, or json: one JSON object per line (text)
  LINKTRACK_ACCESS_LOG          0: no line per request (1)
  LINKTRACK_TLS_CERT, LINKTRACK_TLS_KEY   PEM certificate chain and key: serve HTTPS (none)
  LINKTRACK_SECRET, LINKTRACK_KEY_ID   rewrite/render/decode's signing key (a dev key)
"""


def add_service_options(p: argparse.ArgumentParser) -> None:
    """--db, --data-dir and --public-url: where a command that runs the service keeps it."""
    p.add_argument("--db", help="store URL (default: sqlite:///linktrack.db)")
    p.add_argument("--data-dir", help="event log directory (default: linktrack-data)")
    p.add_argument("--public-url", help="base URL new workspaces track through")


def check_scanner_networks(config: Config) -> None:
    """A clear error, before anything starts, when LINKTRACK_SCANNER_NETWORKS names a file
    that cannot be read or holds a line that is no network."""
    from linktrack.adapters import scanner_networks

    try:
        scanner_networks.load(config.scanner_networks)
    except (OSError, ValueError) as exc:
        raise CliError(f"LINKTRACK_SCANNER_NETWORKS: {exc}") from None


def check_data_dir(config: Config) -> None:
    """A clear error, before anything starts, when the click log's directory cannot be
    written (a read-only volume, a file in the way): every click would be a 503."""
    import os

    if config.event_log != "file":
        return
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the data directory {config.data_dir}: {exc}") from None
    if not os.access(config.data_dir, os.W_OK | os.X_OK):  # EROFS even for root
        raise CliError(f"the data directory {config.data_dir} cannot be written")


def config_from_args(args: argparse.Namespace) -> Config:
    """`LINKTRACK_*` variables, overridden by the options this command was given."""
    from dataclasses import replace
    from pathlib import Path

    from linktrack.bootstrap import Config, parse_address

    try:
        base = Config.from_env()
        metrics = parse_address(getattr(args, "metrics", None))
    except ValueError as exc:  # a LINKTRACK_* variable or option the user can fix
        raise CliError(str(exc)) from None
    changes: dict[str, Any] = {}
    if getattr(args, "db", None):
        changes["db_url"] = args.db
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir)
    if getattr(args, "public_url", None):
        changes["public_url"] = args.public_url
    if getattr(args, "smtp", None):
        changes["smtp_url"] = args.smtp
    if getattr(args, "webhook", None):
        changes["webhook_url"] = args.webhook
    if metrics:
        changes["metrics_addr"] = metrics
    for name in ("log_level", "log_format", "access_log", "tls_cert", "tls_key"):
        if getattr(args, name, None) is not None:
            changes[name] = getattr(args, name)
    return replace(base, **changes)


def add_log_options(p: argparse.ArgumentParser, *, access: bool) -> None:
    """--log-level and --log-format (and, where requests are answered, --access-log)."""
    from linktrack.bootstrap import LOG_FORMATS, LOG_LEVELS

    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="least severe log lines shown (LINKTRACK_LOG_LEVEL; info)",
    )
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="text lines, or one JSON object per line (LINKTRACK_LOG_FORMAT; text)",
    )
    if access:
        p.add_argument(
            "--access-log",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="a line per request, at info (LINKTRACK_ACCESS_LOG=0|1; on)",
        )


def configure_logging(args: argparse.Namespace) -> None:
    """Every command's logs on stderr, as its options or `LINKTRACK_LOG_*` say."""
    from linktrack.entrypoints import logs

    config = config_from_args(args)
    logs.configure(config.log_level, config.log_format)

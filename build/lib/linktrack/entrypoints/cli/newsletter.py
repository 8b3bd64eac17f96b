"""`linktrack newsletter send | watch`: a newsletter send from the shell, with a progress bar.

`send` runs the same job as `POST /v1/newsletters/{id}/send` (it is recorded,
so the API shows it too) in this process; `watch` follows a job that another
process (the server) runs. On a terminal both draw a text progress bar on
stderr; the final job is printed as JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from linktrack.core.model import SendJob
from linktrack.entrypoints.cli.common import CliError, add_service_options, config_from_args

if TYPE_CHECKING:
    from linktrack.adapters.store import Engine
    from linktrack.service.sending import Sender

_BAR = 30


class Bar:
    """`[#####.....] 4,500/10,000 45% sent 4,500 failed 0 skipped 0 1,234/s` on one line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def __call__(self, job: SendJob) -> None:
        done = job.sent + job.failed + job.skipped
        share = done / job.total if job.total else 1.0
        filled = round(_BAR * share)
        rate = done / max(time.monotonic() - self.started, 1e-6)
        line = (
            f"[{'#' * filled}{'.' * (_BAR - filled)}] {done:,}/{job.total:,} {share:4.0%} "
            f"sent {job.sent:,} failed {job.failed:,} skipped {job.skipped:,} {rate:,.0f}/s"
        )
        end = "\n" if job.status != "running" else ""
        self.out.write(f"\r{line}{end}")
        self.out.flush()


def _lines(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _audience_body(args: argparse.Namespace) -> dict[str, Any]:
    if args.ids_file:
        return {"ids": _lines(args.ids_file)}
    if args.emails_file:
        return {"emails": _lines(args.emails_file)}
    try:
        return {"recipients": json.loads(args.recipients)}
    except json.JSONDecodeError as exc:
        raise CliError(f"--recipients is not valid JSON: {exc}") from None


def _progress(args: argparse.Namespace) -> Callable[[SendJob], None] | None:
    show = sys.stderr.isatty() if args.progress is None else args.progress
    return Bar(sys.stderr) if show else None


def _sender(args: argparse.Namespace) -> tuple[Engine, Sender]:
    """The store and a Sender wired as the server wires them (bootstrap.build), minus
    the event log and workers: deliveries are queued for the server's delivery worker
    when a transport is configured (--smtp), else they go to the outbox.
    """
    from linktrack.adapters import store
    from linktrack.bootstrap import senders

    config = config_from_args(args)
    engine = store.make_engine(config.db_url)
    store.migrate(engine)
    _, _, sender = senders(config, engine)
    return engine, sender


def cmd_send(args: argparse.Namespace) -> int:
    """Send newsletter ID to a list of people (or a filter) in this process."""
    from linktrack.adapters import store
    from linktrack.core.audience import parse_audience
    from linktrack.core.errors import InputError
    from linktrack.entrypoints.api.views import job_view
    from linktrack.service.bulk_sends import BulkSends
    from linktrack.service.containers import Containers

    data: dict[str, Any] = {}
    if args.data:
        try:
            data = json.loads(args.data)
        except json.JSONDecodeError as exc:
            raise CliError(f"--data is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CliError("--data must be a JSON object")
    try:
        audience = parse_audience(_audience_body(args))
    except InputError as exc:
        raise CliError(str(exc)) from None
    engine, sender = _sender(args)
    try:
        container = store.find_container(engine, args.id)
        if container is None or container.kind != "newsletter":
            raise CliError(f"no newsletter {args.id}")
        workspace = store.get_workspace(engine, container.workspace_id)
        assert workspace is not None  # a container's workspace (cascade delete)
        bulk = BulkSends(Containers(engine), sender)
        job = store.create_job(engine, container, audience.summary, len(audience.listed))
        done = bulk.run(job, workspace, container, audience, data, _progress(args))
    finally:
        engine.dispose()
    print(json.dumps(job_view(done, "newsletter")))
    return 0 if done.status == "done" else 1


def cmd_watch(args: argparse.Namespace) -> int:
    """Follow a send that another process runs, until it is no longer running."""
    from linktrack.adapters import store
    from linktrack.entrypoints.api.views import job_view

    engine = store.make_engine(args.db or "sqlite:///linktrack.db")
    progress = _progress(args)
    try:
        while True:
            job = store.get_job(engine, args.id, args.send_id)
            if job is None:
                raise CliError(f"no send {args.send_id} of newsletter {args.id}")
            if progress is not None:
                progress(job)
            if job.status != "running":
                break
            time.sleep(args.interval)
    finally:
        engine.dispose()
    print(json.dumps(job_view(job, "newsletter")))
    return 0 if job.status == "done" else 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `newsletter` command and its subcommands."""
    newsletter = sub.add_parser("newsletter", help="send a newsletter; follow a send")
    commands = newsletter.add_subparsers(dest="newsletter_command", required=True)

    def progress_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="progress bar on stderr (default: when stderr is a terminal)",
        )

    send = commands.add_parser("send", help="send newsletter ID now, in this process")
    send.add_argument("id", type=int)
    who = send.add_mutually_exclusive_group(required=True)
    who.add_argument("--ids-file", help="a file of person ids (or cio_<cio_id>), one a line")
    who.add_argument("--emails-file", help="a file of email addresses, one a line")
    who.add_argument(
        "--recipients",
        help='a filter, e.g. \'{"attribute":{"field":"plan","operator":"eq","value":"pro"}}\'',
    )
    send.add_argument("--data", help="JSON object: trigger.* in Liquid")
    send.add_argument("--smtp", help="SMTP relay URL: deliveries are queued for it")
    add_service_options(send)
    progress_option(send)
    send.set_defaults(func=cmd_send)

    watch = commands.add_parser("watch", help="follow send SEND_ID of newsletter ID")
    watch.add_argument("id", type=int)
    watch.add_argument("send_id", type=int)
    watch.add_argument("--db", help="store URL (default: sqlite:///linktrack.db)")
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    progress_option(watch)
    watch.set_defaults(func=cmd_watch)

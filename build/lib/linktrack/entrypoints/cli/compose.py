"""`linktrack rewrite | render | decode`: compose and read tracked links, without a service."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from linktrack.core.compose import MemoryLinkTable, Message, Tracking
from linktrack.core.liquid import TemplateError
from linktrack.core.settings import SettingsError, TrackingSettings
from linktrack.core.tokens import KeyRing, SigningKey, TokenError, split_path
from linktrack.entrypoints.cli.common import CliError

DEV_SECRET = "linktrack-dev-secret-do-not-use-in-production"


def _keyring() -> KeyRing:
    secret = os.environ.get("LINKTRACK_SECRET")
    if not secret:
        print("linktrack: LINKTRACK_SECRET is not set; using the fixed dev key", file=sys.stderr)
        secret = DEV_SECRET
    kid = os.environ.get("LINKTRACK_KEY_ID", "dev")
    return KeyRing([SigningKey(kid, secret.encode())])


def _store_keyring(db_url: str) -> tuple[KeyRing, dict[str, int]]:
    """The live signing keys of every workspace of a store, and which workspace owns each."""
    from sqlalchemy.exc import SQLAlchemyError

    from linktrack.adapters import store
    from linktrack.service.keys import KeyStore

    engine = store.make_engine(db_url)
    try:
        return KeyStore(engine).ring, store.signing_key_workspaces(engine)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot read the signing keys of {db_url}: {exc}") from None
    finally:
        engine.dispose()


def _read_json(path: str | None, what: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {what} {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CliError(f"{what} {path} must hold a JSON object")
    return data


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None


def _settings(path: str | None) -> TrackingSettings:
    try:
        return TrackingSettings.from_dict(_read_json(path, "settings"))
    except SettingsError as exc:
        raise CliError(f"settings: {exc}") from None


def _tracking(args: argparse.Namespace, scope: dict[str, Any], cio_id: str | None) -> Tracking:
    return Tracking(
        settings=_settings(args.settings),
        signer=_keyring().signer(),
        delivery_id=args.delivery_id,
        links=MemoryLinkTable(),
        cio_id=cio_id,
        scope=scope,
        tracked=not args.untracked,
    )


def _emit(args: argparse.Namespace, message: Message, tracking: Tracking) -> int:
    composed = message.compose(tracking)
    for warning in composed.warnings:
        print(f"warning: {warning.message}: {warning.href}", file=sys.stderr)
    if args.links:
        links = [
            {
                "link_id": link.link_id,
                "key": link.key,
                "tag": link.tag,
                "url": link.url,
                "href": link.href,
                "position": link.position,
                "tracked_url": link.tracked_url,
            }
            for link in composed.links
        ]
        print(json.dumps(links, indent=2, ensure_ascii=False))
        return 0
    sys.stdout.write(composed.html if composed.html is not None else composed.text or "")
    return 0


def _is_text(path: str) -> bool:
    return Path(path).suffix.lower() in (".txt", ".text")


def cmd_rewrite(args: argparse.Namespace) -> int:
    """Track every link of an HTML (or .txt) file as written: no Liquid."""
    source = _read_text(args.file)
    kind = {"text": source} if _is_text(args.file) else {"html": source}
    message = Message(liquid=False, **kind)  # type: ignore[arg-type]
    return _emit(args, message, _tracking(args, {}, args.cio_id))


def cmd_render(args: argparse.Namespace) -> int:
    """Render a Liquid template for one person, then track its links."""
    source = _read_text(args.template)
    person = _read_json(args.person, "person")
    scope = {
        "customer": person,
        "trigger": _read_json(args.trigger, "trigger"),
        "event": _read_json(args.event, "event"),
    }
    try:
        kind = {"text": source} if _is_text(args.template) else {"html": source}
        message = Message(**kind)  # type: ignore[arg-type]
        cio_id = person.get("cio_id")
        return _emit(args, message, _tracking(args, scope, str(cio_id) if cio_id else None))
    except TemplateError as exc:
        raise CliError(str(exc)) from None


def cmd_decode(args: argparse.Namespace) -> int:
    """Verify a tracked URL and print what it carries."""
    path = urlsplit(args.url.strip()).path
    owners: dict[str, int] = {}
    try:
        kind, payload, signature = split_path(path)
        if args.db:
            ring, owners = _store_keyring(args.db)
        else:
            ring = _keyring()
        if kind == "c":
            click = ring.verify_click(payload, signature)
            data: dict[str, Any] = {
                "type": "click",
                "kid": click.kid,
                "delivery_id": click.delivery_id,
                "href": click.href,
                "link_id": click.link_id,
                "position": click.position,
            }
        else:
            opened = ring.verify_open(payload, signature)
            data = {"type": "open", "kid": opened.kid, "delivery_id": opened.delivery_id}
        if args.db:
            data["workspace_id"] = owners.get(data["kid"])
    except TokenError as exc:
        print(f"linktrack: not a valid tracked URL: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(data, ensure_ascii=False))
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `rewrite`, `render` and `decode` commands."""

    def compose_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--settings", help="JSON: tracking_domain, url_params, add_cio_id, …")
        p.add_argument("--links", action="store_true", help="print the found links as JSON")
        p.add_argument("--delivery-id", default="cli", help="delivery id to sign into links")
        p.add_argument("--untracked", action="store_true", help="render as an untracked message")

    rewrite = sub.add_parser("rewrite", help="track the links of an HTML file as written")
    rewrite.add_argument("file")
    rewrite.add_argument("--cio-id", help="append _cio_id=<this> (when the setting is on)")
    compose_options(rewrite)
    rewrite.set_defaults(func=cmd_rewrite)

    render = sub.add_parser("render", help="render a Liquid template for a person and track it")
    render.add_argument("template")
    render.add_argument("--person", required=True, help="JSON: the customer.* attributes")
    render.add_argument("--trigger", help="JSON: trigger.* data")
    render.add_argument("--event", help="JSON: event.* data")
    compose_options(render)
    render.set_defaults(func=cmd_render)

    decode = sub.add_parser("decode", help="verify a tracked URL and print its payload")
    decode.add_argument("url")
    decode.add_argument(
        "--db", help="verify with the live signing keys of this store's workspaces"
    )
    decode.set_defaults(func=cmd_decode)

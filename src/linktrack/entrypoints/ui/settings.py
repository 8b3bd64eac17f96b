"""The Workspace settings page: URL parameters (with a live preview), `_cio_id`, open
tracking, the tracking domain and HTTPS, link shortening, signing keys and API keys.

Every change goes through what the API's `/v1/workspace/settings` and
`/v1/workspace/signing_keys` handlers call (`core.settings.changed_settings`,
`store.put_settings`, `store.rotate_signing_key`, …), so the page and the API can
never disagree on what is valid. Each section is its own form; a saved one
redirects back (post/redirect/get) with a notice, a refused one is the page again
with the error, the user's input and a 4xx status.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from linktrack.adapters import store
from linktrack.core.errors import InputError, StoreError
from linktrack.core.model import API_KEY_KINDS, Workspace
from linktrack.core.settings import TrackingSettings, changed_settings
from linktrack.entrypoints.ui.auth import Form, Refused, Viewer
from linktrack.entrypoints.ui.context import Ui
from linktrack.entrypoints.ui.settings_form import (
    SAMPLE_HREF,
    SECTIONS,
    ParamRow,
    posted_rows,
    preview,
    rows_of,
    section_change,
)

PAGE: Final = "/ui/settings"
# What a notice flag in the query says after a redirect.
NOTICES: Final = {
    "params": "URL parameters saved: links in messages sent from now on carry them.",
    "tracking": "Tracking settings saved: they apply to messages sent from now on.",
    "shortening": "Link shortening settings saved.",
    "rotated": "A new signing key signs links from now on; older keys still verify theirs.",
    "retired": "Signing key retired: links it signed no longer redirect.",
    "revoked": "API key revoked: requests carrying it are refused from now on.",
}
EMPTY_ROWS: Final = 2  # blank rows under the parameters, to add one without JavaScript


class SettingsPage:
    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.engine = ui.services.engine

    def _settings(self, workspace: Workspace) -> TrackingSettings:
        return self.ui.services.sender.settings_of(workspace)  # read by the guard, per request

    def render(
        self,
        request: Request,
        viewer: Viewer,
        *,
        status: int = 200,
        rows: list[ParamRow] | None = None,
        shown: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        """The page; `rows` and `shown` keep what the user typed when a form is refused."""
        settings = self._settings(viewer.workspace)
        ws = viewer.workspace.id
        flag = request.query_params.get("saved", "")
        notice = NOTICES.get(flag, "")
        if notice and request.query_params.get("item"):
            notice = f"{notice} ({request.query_params['item'][:40]})"
        rows = rows_of(settings) if rows is None else rows
        context.setdefault("preview", None)
        context.setdefault("new_key", None)
        return self.ui.pages.render(
            request,
            "settings.html",
            status=status,
            title="Workspace settings",
            sample_href=SAMPLE_HREF,
            warnings=settings.warnings(),  # what GET /v1/workspace/settings answers with
            shown={**settings.to_dict(), **(shown or {})},
            rows=[*rows, *[ParamRow("", "")] * EMPTY_ROWS],
            errors=errors or {},
            notice=notice,
            signing_keys=store.workspace_signing_keys(self.engine, ws),
            api_keys=store.list_api_keys(self.engine, ws),
            kinds=sorted(API_KEY_KINDS),
            **context,
        )

    def show(self, request: Request, viewer: Viewer, form: Form) -> Response:
        return self.render(request, viewer)

    def change(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """One section's form: saved, previewed, or given another empty row."""
        section = form.get("section", "")
        if section not in SECTIONS:
            raise Refused(
                400, f"no settings section {section[:40]!r}: one of {', '.join(SECTIONS)}"
            )
        action = form.get("action", "save")
        rows = posted_rows(form) if section == "params" else None
        if action == "add" and rows is not None:
            return self.render(request, viewer, rows=[*rows, ParamRow("", "")], shown=_kept(form))
        try:
            change = section_change(section, form)
            settings = changed_settings(self._settings(viewer.workspace), change)
        except InputError as exc:  # 400, or 422 for a parameter's Liquid
            return self.render(request, viewer, status=exc.status, rows=rows,
                               shown=_kept(form), errors={section: str(exc)})  # fmt: skip
        if action == "preview":
            signer = self.ui.services.keys.signer(viewer.workspace.id)
            return self.render(request, viewer, rows=rows, shown=_kept(form),
                               preview=preview(settings, signer))  # fmt: skip
        store.put_settings(self.engine, viewer.workspace.id, settings.to_dict())
        return _back(section, section)

    def preview(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """The live preview's JSON: the parameters form's rows applied to the sample link."""
        try:
            change = section_change("params", form)
            settings = changed_settings(self._settings(viewer.workspace), change)
        except InputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        found = preview(settings, self.ui.services.keys.signer(viewer.workspace.id))
        return JSONResponse(found.to_dict(), status_code=422 if found.error else 200)

    # ------------------------------------------------------------------ keys

    def rotate_key(self, request: Request, viewer: Viewer, form: Form) -> Response:
        kid = store.rotate_signing_key(self.engine, viewer.workspace.id)
        self.ui.services.keys.reload()
        return _back("rotated", "signing-keys", kid)

    def retire_key(self, request: Request, viewer: Viewer, form: Form) -> Response:
        kid = request.path_params["kid"]
        try:
            store.retire_signing_key(self.engine, viewer.workspace.id, kid)
        except StoreError as exc:  # not this workspace's live key (404), or its last (409)
            return self.render(request, viewer, status=exc.status, errors={"signing": str(exc)})
        self.ui.services.keys.reload()
        return _back("retired", "signing-keys", kid)

    def create_api_key(self, request: Request, viewer: Viewer, form: Form) -> Response:
        """A new key, answered with the page itself: only its hash is kept, so this answer
        is the one place it is ever shown (a redirect would have to carry it along)."""
        kind = form.get("kind", "")
        if kind not in API_KEY_KINDS:
            raise Refused(400, f"an API key's kind is one of {', '.join(sorted(API_KEY_KINDS))}")
        key = store.create_api_key(self.engine, viewer.workspace.id, kind)
        return self.render(request, viewer, status=201, new_key={"kind": kind, "key": key})

    def revoke_api_key(self, request: Request, viewer: Viewer, form: Form) -> Response:
        key_id = _key_id(request.path_params["id"])
        try:
            gone = store.revoke_api_key(self.engine, viewer.workspace.id, key_id)
        except StoreError as exc:  # another workspace's or no key (404), the last (409)
            return self.render(request, viewer, status=exc.status, errors={"api": str(exc)})
        return _back("revoked", "api-keys", f"{gone.kind} key #{gone.id}")


def _key_id(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise Refused(404, "no such API key in this workspace")
    return int(text)


def _kept(form: Form) -> dict[str, Any]:
    """What a refused form typed, shown again in place of the stored values."""
    section = form.get("section", "")
    if section == "params":
        return {"add_cio_id": form.get("add_cio_id") == "1"}
    return section_change(section, form) if section in ("tracking", "shortening") else {}


def _back(flag: str, anchor: str, item: str = "") -> Response:
    query = urlencode({"saved": flag, **({"item": item} if item else {})})
    return RedirectResponse(f"{PAGE}?{query}#{anchor}", status_code=303)


def routes(ui: Ui) -> list[Route]:
    page = SettingsPage(ui)
    guard = ui.guard
    return [
        Route("/settings", guard(page.show)),
        Route("/settings", guard(page.change), methods=["POST"]),
        Route("/settings/preview", guard(page.preview), methods=["POST"]),
        Route("/settings/signing-keys", guard(page.rotate_key), methods=["POST"]),
        Route("/settings/signing-keys/{kid}/retire", guard(page.retire_key), methods=["POST"]),
        Route("/settings/api-keys", guard(page.create_api_key), methods=["POST"]),
        Route("/settings/api-keys/{id}/revoke", guard(page.revoke_api_key), methods=["POST"]),
    ]

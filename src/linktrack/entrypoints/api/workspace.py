"""A workspace's tracking settings and its signing keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from linktrack.adapters import store
from linktrack.core.errors import require_object
from linktrack.core.settings import changed_settings
from linktrack.entrypoints.api.common import JSON, app_workspace, endpoint, with_body
from linktrack.entrypoints.api.views import settings_view, signing_key_view
from linktrack.service.keys import KeyStore
from linktrack.service.sending import Sender


@dataclass(frozen=True, slots=True)
class WorkspaceApi:
    """The endpoints under /v1/workspace."""

    engine: store.Engine
    sender: Sender
    keys: KeyStore
    writer_status: Callable[[], dict[str, Any]]

    @endpoint
    def settings(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        return JSON(settings_view(self.sender.settings_of(ws)))

    @with_body
    def change_settings(self, request: Request, data: Any) -> JSON:
        """Merge the given settings over the current ones; URL parameters must compile."""
        ws = app_workspace(self.engine, request)
        data = require_object(data, "settings")
        data = {k: v for k, v in data.items() if k != "warnings"}  # GET's answer, sent back
        settings = changed_settings(self.sender.settings_of(ws), data)
        store.put_settings(self.engine, ws.id, settings.to_dict())
        return JSON(settings_view(settings))

    @endpoint
    def writer(self, request: Request) -> JSON:
        """How far reports are behind clicks: the event writer's lag, rate and state."""
        app_workspace(self.engine, request)  # any workspace's key: the writer is shared
        return JSON({"writer": self.writer_status()})

    @endpoint
    def signing_keys(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        keys = store.workspace_signing_keys(self.engine, ws.id)
        return JSON({"signing_keys": [signing_key_view(k) for k in keys]})

    @endpoint
    def rotate_key(self, request: Request) -> JSON:
        """Add a key that signs new links (the request has no body)."""
        ws = app_workspace(self.engine, request)
        kid = store.rotate_signing_key(self.engine, ws.id)
        self.keys.reload()
        return JSON({"kid": kid}, status_code=201)

    @endpoint
    def retire_key(self, request: Request) -> JSON:
        ws = app_workspace(self.engine, request)
        store.retire_signing_key(self.engine, ws.id, request.path_params["kid"])
        self.keys.reload()
        return JSON({"retired": request.path_params["kid"]})

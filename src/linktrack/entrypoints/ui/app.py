"""The dashboard as one Starlette app, mounted at `/ui` by the API app.

`PAGES` lists the page modules; each gives `routes(ui)`. Everything a page
needs (the services, the renderer, the login guard) is in `Ui` (context.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from linktrack.bootstrap import Services
from linktrack.entrypoints.ui import (
    message_settings,
    messages,
    people,
    report,
    segments,
    settings,
)
from linktrack.entrypoints.ui.auth import SESSION_COOKIE, SESSION_SECONDS, Guard, LoginPages
from linktrack.entrypoints.ui.context import Ui
from linktrack.entrypoints.ui.render import Pages
from linktrack.service.accounts import Accounts

STATIC: Final = Path(__file__).parent / "static"


PAGES: Final = (messages, report, message_settings, people, settings, segments)


def _client_of(trust_proxy: bool) -> Callable[[Request], str]:
    """The client's address, to count its failed logins by (X-Forwarded-For when trusted)."""

    def client(request: Request) -> str:
        forwarded = request.headers.get("x-forwarded-for") if trust_proxy else None
        if forwarded:
            return forwarded.split(",")[0].strip()
        return request.client.host if request.client else "unknown"

    return client


async def _home(request: Request) -> Response:
    return RedirectResponse("/ui/messages", status_code=303)


def build_ui(services: Services) -> Starlette:
    """The dashboard over `services`, to be mounted at `/ui`."""
    accounts = services.accounts
    pages = Pages()
    ui = Ui(services, pages, Guard(accounts, services.engine, pages))
    login = LoginPages(accounts, pages, _client_of(services.config.trust_proxy))
    routes: list[BaseRoute] = [
        Route("/", _home),
        Route("/login", login.login, methods=["GET", "POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    for module in PAGES:
        routes.extend(module.routes(ui))

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "No such page." if exc.status_code == 404 else str(exc.detail)
        return pages.render(request, "error.html", status=exc.status_code, message=message)

    https = services.config.public_url.startswith("https:")
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=_secret(accounts),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_SECONDS,
            path="/ui",
            same_site="lax",
            https_only=https,
        )
    ]
    return Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: not_found}
    )


def _secret(accounts: Accounts) -> str:
    return accounts.session_secret()

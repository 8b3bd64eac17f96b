"""Who is looking: sessions, the login and logout pages, and CSRF protection.

A session is Starlette's signed cookie (itsdangerous, HttpOnly, SameSite=Lax)
holding the user's id and a random CSRF token. Every page but the login page
needs one (`guarded`); every POST must carry the session's token in its
`csrf_token` field, and when the browser names an Origin (or a Referer) it
must be this server's own. A cross-site form post fails either test.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from linktrack.adapters import store
from linktrack.core.errors import InputError, StoreError
from linktrack.core.model import DashboardUser, Workspace
from linktrack.entrypoints.ui.render import Pages
from linktrack.service.accounts import Accounts, TooManyAttempts

SESSION_COOKIE: Final = "linktrack_session"
SESSION_SECONDS: Final = 12 * 3600
LOGIN: Final = "/ui/login"

Form = dict[str, str]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in user and the workspace whose data they see."""

    user: DashboardUser
    workspace: Workspace


class Refused(Exception):
    """A request the dashboard will not serve, with the status and what to tell the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def form_of(request: Request) -> Form:
    """An `application/x-www-form-urlencoded` body, one value per field (the last)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise Refused(415, "forms are sent as application/x-www-form-urlencoded")
    body = (await request.body()).decode("utf-8", errors="replace")
    return {name: values[-1] for name, values in parse_qs(body, keep_blank_values=True).items()}


def check_same_origin(request: Request) -> None:
    """A state-changing request must come from a page of this server."""
    host = request.headers.get("host", "")
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value:
            if value == "null" or urlsplit(value).netloc != host:
                raise Refused(403, "this form came from another site: refused (CSRF protection)")
            return


def check_csrf(request: Request, form: Form) -> None:
    check_same_origin(request)
    expected = request.session.get("csrf")
    given = form.get("csrf_token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        raise Refused(403, "the form's CSRF token is missing or stale: reload the page and retry")


def local_target(value: str | None) -> str:
    """Where to go after logging in: a dashboard path of ours, never another site."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


def viewer_of(accounts: Accounts, engine: store.Engine, request: Request) -> Viewer | None:
    """The session's user (still existing) and their workspace, or None."""
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    user = accounts.user(user_id)
    workspace = store.get_workspace(engine, user.workspace_id) if user else None
    if user is None or workspace is None:
        request.session.clear()
        return None
    return Viewer(user, workspace)


PageHandler = Callable[[Request, Viewer, Form], Response]


class Guard:
    """Turns a page function `(request, viewer, form) -> Response` into a Starlette endpoint:
    logged in or redirected to the login page, CSRF-checked when it posts, run in a thread."""

    def __init__(self, accounts: Accounts, engine: store.Engine, pages: Pages) -> None:
        self.accounts = accounts
        self.engine = engine
        self.pages = pages

    def __call__(self, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            viewer = await run_in_threadpool(viewer_of, self.accounts, self.engine, request)
            if viewer is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{LOGIN}?next={quote(target)}", status_code=303)
            request.scope["linktrack.viewer"] = viewer
            csrf_token(request)
            try:
                form: Form = {}
                if request.method == "POST":
                    form = await form_of(request)
                    check_csrf(request, form)
                return await run_in_threadpool(handler, request, viewer, form)
            except Refused as exc:
                return self.refusal(request, exc.status, str(exc))
            except StoreError as exc:  # NotFound 404, Conflict 409, …
                return self.refusal(request, exc.status, str(exc))
            except InputError as exc:  # 400, Unprocessable 422
                return self.refusal(request, exc.status, str(exc))

        return endpoint

    def refusal(self, request: Request, status: int, message: str) -> Response:
        return self.pages.render(request, "error.html", status=status, message=message)


class LoginPages:
    """`/ui/login` (GET: the form; POST: check it) and `/ui/logout` (POST)."""

    def __init__(self, accounts: Accounts, pages: Pages, client_of: Callable[[Request], str]):
        self.accounts = accounts
        self.pages = pages
        self.client_of = client_of

    async def login(self, request: Request) -> Response:
        target = local_target(request.query_params.get("next"))
        if request.method == "GET":
            csrf_token(request)
            return self._form(request, target)
        try:
            form = await form_of(request)
            check_csrf(request, form)
        except Refused as exc:
            return self.pages.render(request, "error.html", status=exc.status, message=str(exc))
        email, password = form.get("email", ""), form.get("password", "")
        try:
            user = await run_in_threadpool(
                self.accounts.authenticate, email, password, self.client_of(request)
            )
        except TooManyAttempts as exc:
            response = self._form(request, target, str(exc), email=email, status=429)
            response.headers["retry-after"] = str(int(exc.retry_after) + 1)
            return response
        if user is None:
            return self._form(request, target, "Wrong email or password.", email=email, status=401)
        request.session.clear()
        request.session.update(uid=user.id, csrf=secrets.token_urlsafe(32))
        return RedirectResponse(local_target(form.get("next")) or target, status_code=303)

    async def logout(self, request: Request) -> Response:
        try:
            check_csrf(request, await form_of(request))
        except Refused as exc:
            return self.pages.render(request, "error.html", status=exc.status, message=str(exc))
        request.session.clear()
        return RedirectResponse(LOGIN, status_code=303)

    def _form(
        self, request: Request, target: str, error: str = "", *, email: str = "", status: int = 200
    ) -> Response:
        context: dict[str, Any] = {"error": error, "email": email, "next": target}
        return self.pages.render(request, "login.html", status=status, **context)

"""The gate in front of every route: body size, who is asking, and whether they may.

``Gate`` is plain ASGI middleware, so it sees every request, whatever route
(or mounted app) ends up answering it, before any of it runs:

1. A request body larger than its limit is a 413, in both modes (a login form
   is small; a program to grade is at most 256 KiB, sent as JSON).
2. In classroom mode, the session cookie is looked up in the session store and
   the account behind it in the classroom (revoked: the session is dropped).
   A missing, unknown, expired or malformed cookie is simply nobody.
3. The route's rule (``access.RULES``) is applied: nobody on a route that needs
   a login gets 401 on the API and a redirect to /login for a page; a trainee
   naming another site, or calling an instructor's route, gets 403.
4. A state-changing request must carry the session's CSRF token in the
   ``X-CSRF-Token`` header (forms carry theirs in the body; their route checks).

The viewer is left in ``scope["state"]["viewer"]`` for ``deps.ViewerDep``. In
open mode (no classroom) everyone is ``access.OPEN`` and only step 1 applies.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

import anyio
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citylab.errors import CitylabError
from dashboard.access import OPEN, PUBLIC, Viewer, allowed, flat_routes, rule_for
from dashboard.ratelimit import RateLimit
from dashboard.sessions import SessionStore

SESSION_COOKIE = "citylab_session"
CSRF_COOKIE = "citylab_csrf"  # the login form's double-submit token (not the session's)
CSRF_HEADER = "x-csrf-token"
MAX_BODY_BYTES = 1024 * 1024
MAX_FORM_BYTES = 16 * 1024
FORM_PATHS = ("/login", "/logout")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Auth:
    """Classroom mode's settings and state, one per app (``app.state.auth``)."""

    classroom: Any  # classroom.accounts.Classroom
    sessions: SessionStore
    secure_cookies: bool | None = None  # None: Secure when the request came over https
    login_per_user: RateLimit = field(default_factory=lambda: RateLimit(5, 60))
    login_per_address: RateLimit = field(default_factory=lambda: RateLimit(20, 60))
    runs_per_user: RateLimit = field(default_factory=lambda: RateLimit(5, 60))

    def cookie_secure(self, scope: Scope) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return scope.get("scheme") in ("https", "wss")

    def viewer(self, session_id: str) -> Viewer | None:
        """The person a session cookie stands for; None if nobody (blocking: SQLite)."""
        session = self.sessions.get(session_id)
        if session is None:
            return None
        account = self.classroom.account(session.username)
        if account is None or not account.active:
            self.sessions.delete_user(session.username)  # revoked: every browser of theirs is out
            return None
        return Viewer(account.username, account.role, account.site, account.name, session.csrf)


class Gate:
    """ASGI middleware; ``app_ref`` is the FastAPI app whose routes and ``state.auth`` it consults."""

    def __init__(self, app: ASGIApp, app_ref: Any) -> None:
        self.app = app
        self.app_ref = app_ref
        self._routes: list[tuple[str, Any]] | None = None  # built on the first request, when all are added

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            limit = MAX_FORM_BYTES if scope["path"] in FORM_PATHS else MAX_BODY_BYTES
            body = await _read_body(receive, limit)
            if body is None:
                await _problem(413, f"the request is larger than {limit // 1024:,} KiB: send less")(
                    scope, receive, send)
                return
            receive = _replay(body, receive)
        auth: Auth | None = self.app_ref.state.auth
        state = scope.setdefault("state", {})
        if auth is None:
            state["viewer"] = OPEN
            await self.app(scope, receive, send)
            return
        viewer = await _viewer(auth, scope)
        state["viewer"] = viewer
        refusal = self._refusal(scope, viewer)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, viewer: Viewer | None) -> Any:
        route_path, path_params = self._route(scope)
        method = scope.get("method", "GET")
        rule = rule_for(method, route_path) if route_path is not None else None
        if rule is not None and rule.who == PUBLIC:
            return None
        if viewer is None:
            return _anonymous(scope)
        if rule is None:
            return None  # logged in, no such route: the router's own 404 or 405
        sites = [path_params["site"]] if "site" in path_params else []
        sites += [s for s in parse_qs(scope.get("query_string", b"").decode("latin-1")).get("site", []) if s]
        for site in sites or [None]:
            if not allowed(viewer, rule, site):
                what = "instructors only" if site is None else f"site {site!r} is not yours"
                return _problem(403, f"not allowed: {what}; you are logged in as {viewer.username}")
        if method in UNSAFE_METHODS and not rule.form:
            sent = _header(scope, CSRF_HEADER)
            if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), viewer.csrf.encode()):
                return _problem(403, "the request has no valid CSRF token: reload the page and try again")
        return None

    def _route(self, scope: Scope) -> tuple[str | None, dict[str, Any]]:
        if self._routes is None:
            self._routes = [(path, route) for path, _, route in flat_routes(self.app_ref)]
        partial: tuple[str | None, dict[str, Any]] = (None, {})
        for path, route in self._routes:
            match, child = route.matches(scope)
            if match == Match.FULL:
                return path, child.get("path_params", {})
            if match == Match.PARTIAL and partial[0] is None:
                partial = (None, child.get("path_params", {}))
        return partial


async def _viewer(auth: Auth, scope: Scope) -> Viewer | None:
    session_id = _cookie(scope, SESSION_COOKIE)
    if not session_id:
        return None
    try:
        return await anyio.to_thread.run_sync(auth.viewer, session_id)
    except CitylabError:
        return None  # an unreadable session file or classroom: nobody, and the login page says why


def _cookie(scope: Scope, name: str) -> str:
    raw = _header(scope, "cookie")
    if not raw:
        return ""
    try:
        return cookie_parser(raw).get(name, "")
    except Exception:  # a cookie header we cannot parse is no cookie, never a 500
        return ""


def cookie(scope: Scope, name: str) -> str:
    """A cookie's value from the request, "" if absent or unreadable."""
    return _cookie(scope, name)


def _header(scope: Scope, name: str) -> str:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return ""


def _anonymous(scope: Scope) -> Any:
    path = scope.get("path", "/")
    if path.startswith("/api/") or path == "/openapi.json" or scope.get("method", "GET") not in ("GET", "HEAD"):
        return _problem(401, "log in first: open /login", {"WWW-Authenticate": 'Cookie realm="citylab"'})
    target = path + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
    root = scope.get("root_path", "")
    return RedirectResponse(f"{root}/login?next={quote(target, safe='')}", status_code=303)


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` bytes (stopped reading there)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay

"""Logging in and out: GET and POST /login, POST /logout, and GET /api/session (who am I).

The login form is protected against cross-site posting by the double-submit
pattern (a random token in a SameSite=Strict cookie and in the form); once
logged in, the session's own token protects everything else (see ``gate``).
Failed logins are limited per username and per client address (429 with
Retry-After); a success clears the username's count.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import parse_qs

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from citylab.errors import CitylabError, StoreError
from dashboard import login_page
from dashboard.deps import ViewerDep
from dashboard.gate import CSRF_COOKIE, SESSION_COOKIE, Auth, cookie
from dashboard.models import ERRORS, SessionOut
from dashboard.routes.pages import CONTENT_SECURITY_POLICY
from classroom.rules import SHARED_SITE

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["session"], responses=ERRORS)

HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-store",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def _auth(request: Request) -> Auth | None:
    return request.app.state.auth


def _page(request: Request, status: int = 200, *, message: str = "", kind: str = "error", username: str = "",
          next_path: str = "/", headers: dict[str, str] | None = None) -> HTMLResponse:
    auth = _auth(request)
    assert auth is not None
    token = cookie(request.scope, CSRF_COOKIE)
    if not (20 <= len(token) <= 64) or not token.replace("-", "").replace("_", "").isalnum():
        token = secrets.token_urlsafe(32)
    root = request.scope.get("root_path", "")
    response = HTMLResponse(login_page.render(csrf=token, next_path=next_path, message=message, kind=kind,
                                              username=username, root=root),
                            status_code=status, headers={**HEADERS, **(headers or {})})
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path=root + "/login",
                        secure=auth.cookie_secure(request.scope))
    return response


def _safe_next(value: str) -> str:
    # Only a path of this site: never //elsewhere or a full address (an open redirect).
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    return value[:2000]


@router.get("/login")
def login_form(request: Request, next: str = "/", logged_out: bool = False) -> Response:
    if _auth(request) is None:
        return RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
    message = login_page.STRINGS["logged_out"] if logged_out else ""
    return _page(request, message=message, kind="notice", next_path=_safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    auth = _auth(request)
    if auth is None:
        return RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
    try:
        form = parse_qs((await request.body()).decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        form = {}
    field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
    username, password = field("username").strip().lower()[:200], field("password")[:1024]
    next_path = _safe_next(field("next") or "/")
    sent, expected = field("csrf_token"), cookie(request.scope, CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return _page(request, 403, message=login_page.STRINGS["expired"], username=username, next_path=next_path)
    address = f"address:{request.client.host if request.client else 'unknown'}"
    wait = max(auth.login_per_user.retry_after(f"user:{username}"), auth.login_per_address.retry_after(address))
    if wait:
        return _page(request, 429, message=login_page.STRINGS["limited"].format(seconds=wait), username=username,
                     next_path=next_path, headers={"Retry-After": str(wait)})
    try:
        account = await anyio.to_thread.run_sync(auth.classroom.authenticate, username, password)
    except StoreError as exc:
        return _page(request, 503, message=login_page.STRINGS["unavailable"].format(reason=exc),
                     username=username, next_path=next_path)
    except CitylabError:
        account = None  # a name that cannot be an account is a wrong login like any other
    if account is None:
        auth.login_per_user.hit(f"user:{username}")
        auth.login_per_address.hit(address)
        return _page(request, 401, message=login_page.STRINGS["wrong"], username=username, next_path=next_path)
    auth.login_per_user.clear(f"user:{username}")
    session_id, _ = await anyio.to_thread.run_sync(auth.sessions.create, account.username)
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + next_path, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(auth.sessions.max_seconds), path=root + "/",
                        httponly=True, samesite="lax", secure=auth.cookie_secure(request.scope))
    response.delete_cookie(CSRF_COOKIE, path=root + "/login")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: ViewerDep) -> Response:
    """Ends this browser's session. The CSRF token comes in the form body or the X-CSRF-Token header."""
    auth = _auth(request)
    root = request.scope.get("root_path", "")
    if auth is None:
        return RedirectResponse(root + "/", status_code=303)
    try:
        form = parse_qs((await request.body()).decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        form = {}
    sent = (form.get("csrf_token") or [""])[0] or request.headers.get("x-csrf-token", "")
    if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), viewer.csrf.encode()):
        return Response('{"detail":"the request has no valid CSRF token: reload the page and try again"}',
                        status_code=403, media_type="application/json")
    await anyio.to_thread.run_sync(auth.sessions.delete, cookie(request.scope, SESSION_COOKIE))
    response = RedirectResponse(root + "/login?logged_out=true", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=root + "/", httponly=True, samesite="lax",
                           secure=auth.cookie_secure(request.scope))
    return response


@api.get("/session", response_model=SessionOut)
def who_am_i(request: Request, viewer: ViewerDep) -> dict[str, Any]:
    """Who is logged in (``mode`` "open": no accounts, everything visible) and the CSRF token the page
    sends back in ``X-CSRF-Token``."""
    if _auth(request) is None:
        return {"mode": "open", "username": None, "name": "", "role": "open", "site": None,
                "shared_site": SHARED_SITE, "csrf": ""}
    return {"mode": "classroom", "username": viewer.username, "name": viewer.name, "role": viewer.role,
            "site": viewer.site, "shared_site": SHARED_SITE, "csrf": viewer.csrf}

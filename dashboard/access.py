"""Who may use which route: the viewer, and one rule per route of the app.

Every route of the app has a row in ``RULES`` (``create_app`` refuses to
build an app with a route that has none, and tests/test_dashboard_auth.py
tries every route as every kind of person), so a new endpoint cannot be
forgotten. A rule says who may call the route at all:

- ``public``: anyone, logged in or not (the login page, the static files);
- ``user``: anyone logged in; the route itself narrows what it returns to the
  viewer's sites (lists) or answers 403 (one run, one grading);
- ``instructor``: instructors only;

and how the ``site`` named in the path or the query is checked before the
route runs: ``read`` (the viewer's own site or the shared city) or ``own``
(the viewer's own site only: runs and grades). Instructors read and own
every site. In open mode (no classroom) the one viewer is ``OPEN``, who may do
everything, as before accounts existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from classroom.rules import SHARED_SITE

PUBLIC, USER, INSTRUCTOR = "public", "user", "instructor"


@dataclass(frozen=True)
class Viewer:
    """The person behind a request. ``username`` None: open mode, no accounts."""

    username: str | None
    role: str  # "instructor", "trainee" or "open"
    site: str | None = None
    name: str = ""
    csrf: str = ""

    @property
    def sees_everything(self) -> bool:
        return self.role in ("instructor", "open")

    def can_read(self, site: str | None) -> bool:
        """Devices, readings, live events, dead letters and replays of ``site``."""
        return self.sees_everything or (site is not None and site in (self.site, SHARED_SITE))

    def owns(self, site: str | None) -> bool:
        """Runs and grades of ``site``, and starting a grading as ``site``."""
        return self.sees_everything or (site is not None and site == self.site)

    def readable_sites(self) -> frozenset[str] | None:
        """The sites this viewer may read; None: every site."""
        if self.sees_everything:
            return None
        return frozenset(s for s in (self.site, SHARED_SITE) if s)

    @property
    def who(self) -> str:
        """How the gradebook names who asked for a grading."""
        return self.username or "dashboard"


OPEN = Viewer(username=None, role="open")


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and how the site it names is checked (None: it names none)."""

    who: str
    site: str | None = None  # "read" or "own"
    # A form that carries its CSRF token in its own body (checked by the route):
    # the gate only checks the X-CSRF-Token header.
    form: bool = False


# (method, route path) -> rule. HEAD follows GET; "*" is a mounted app.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(PUBLIC, form=True),
    ("*", "/static"): Rule(PUBLIC),
    ("POST", "/logout"): Rule(USER, form=True),
    ("GET", "/"): Rule(USER),
    ("GET", "/openapi.json"): Rule(USER),
    ("GET", "/api/session"): Rule(USER),
    ("GET", "/api/health"): Rule(USER),
    ("GET", "/api/city"): Rule(USER),
    ("GET", "/api/devices"): Rule(USER, "read"),
    ("GET", "/api/devices/{site}/{device}"): Rule(USER, "read"),
    ("GET", "/api/devices/{site}/{device}/readings"): Rule(USER, "read"),
    ("GET", "/api/devices/{site}/{device}/series"): Rule(USER, "read"),
    ("GET", "/api/devices/{site}/{device}/statuses"): Rule(USER, "read"),
    ("GET", "/api/dead-letters"): Rule(USER, "read"),
    ("GET", "/api/live"): Rule(USER, "read"),
    ("GET", "/api/replay/{site}"): Rule(USER, "read"),
    ("GET", "/api/replay/{site}/at"): Rule(USER, "read"),
    ("GET", "/api/labs"): Rule(USER),
    ("GET", "/api/labs/{lab_id}"): Rule(USER),
    ("POST", "/api/labs/{lab_id}/runs"): Rule(USER),  # the body's site: checked by the route (owns)
    ("GET", "/api/runs"): Rule(USER, "own"),
    ("GET", "/api/runs/{run_id}"): Rule(USER),  # the run's site: checked by the route
    ("GET", "/api/gradebook/grades"): Rule(USER, "own"),
    ("GET", "/api/gradebook/grades/{grade_id}"): Rule(USER),  # the grading's site: checked by the route
    ("GET", "/api/gradebook/matrix"): Rule(USER),  # a trainee's matrix is their own row
    ("GET", "/api/gradebook/export.csv"): Rule(USER, "own"),
    ("GET", "/api/accounts"): Rule(INSTRUCTOR),
    ("POST", "/api/accounts/{username}/password-reset"): Rule(INSTRUCTOR),
}


def flat_routes(app: Any) -> list[tuple[str, frozenset[str], Any]]:
    """Every route of ``app`` as (path, methods, starlette route); methods {"*"} for a mount.

    Newer FastAPI keeps an included router as one entry of ``app.routes``;
    ``iter_route_contexts`` opens them up into the routes that really answer.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes is already flat
        return [(route.path, frozenset(getattr(route, "methods", None) or {"*"}), route) for route in app.routes]
    return [(c.path, frozenset(c.methods or {"*"}), c.route) for c in iter_route_contexts(app.routes)]


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route (``path`` as declared, e.g. ``/api/runs/{run_id}``); None if it has none."""
    method = "GET" if method == "HEAD" else method
    return RULES.get((method, path)) or RULES.get(("*", path))


def allowed(viewer: Viewer, rule: Rule, site: str | None) -> bool:
    """May ``viewer`` call a route with ``rule`` naming ``site`` (None: names none)?"""
    if rule.who == PUBLIC:
        return True
    if rule.who == INSTRUCTOR and not viewer.sees_everything:
        return False
    if site is None or rule.site is None:
        return True
    return viewer.owns(site) if rule.site == "own" else viewer.can_read(site)

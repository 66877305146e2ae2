"""Build the dashboard app around a store: ``create_app(store)``.

The app reads the store and the gradebook; the only thing it starts is a
grading run, on request. Errors reach the client as ``{"detail": "a
sentence"}``: a bad query parameter is a 422 that names the parameter, an
unknown device, lab or run a 404, a store that cannot be read a 503; never a
500 with a traceback.

/docs and /redoc are off: FastAPI's pages load Swagger UI and ReDoc from a
CDN, and nothing here may reach the internet. /openapi.json stays.

With a ``classroom`` the app is in classroom mode: a login, sessions, and a
rule for every route (``access``), enforced by the gate (``gate``) in front of
all of it. Without one it is the open single-user dashboard of a trainee at
home, as it always was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

import citylab
from citylab.errors import CitylabError, StoreError
from citylab.mqtt import BrokerAddress
from citylab.stores import ReadingStore, SQLiteStore
from dashboard.access import flat_routes, rule_for
from dashboard.citymap import try_load_map
from dashboard.deps import CitySettings, LiveSettings
from dashboard.gate import Auth, Gate
from dashboard.grades import GradesReader
from dashboard.live_hub import LiveHub
from dashboard.routes import city as city_routes
from dashboard.routes import accounts, dead_letters, devices, gradebook, health, labs, live, pages, replay, runs
from dashboard.routes import session
from dashboard.replay import Replay
from dashboard.runs import GradingRuns
from dashboard.sessions import SessionStore

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_CITY = "default"


def create_app(
    store: SQLiteStore,
    *,
    poll_seconds: float = 0.025,
    city: Any = DEFAULT_CITY,
    site: str = "demo",
    gradebook_path: Path | str | None = None,
    broker: BrokerAddress | None = None,
    grader: Any = None,
    classroom: Any = None,
    sessions_path: Path | str | None = None,
    secure_cookies: bool | None = None,
    readings: ReadingStore | None = None,
) -> FastAPI:
    """A dashboard app reading ``store``.

    ``city``: a city name, a path or a loaded ``City`` for the map (None: no map);
    ``site``: the site the city's devices publish under;
    ``gradebook_path``: where gradings go (default: ``gradebook.sqlite`` beside the store);
    ``broker``: grade against this broker instead of an embedded one per grading;
    ``poll_seconds`` paces the live stream; ``grader`` replaces ``labs.grade`` (tests);
    ``classroom``: a ``classroom.Classroom`` switches on logins and per-site access (None: open mode);
    ``sessions_path``: the login sessions' SQLite file (default: ``dashboard-sessions.sqlite`` beside
    the classroom database; share it between dashboard processes);
    ``secure_cookies``: True forces the Secure cookie flag (None: set it when served over https);
    ``readings``: where charts read time ranges and aggregates (default: ``store``; ``citylab up
    --store influx://...`` passes the InfluxDB store). The device list, statuses, live view and dead
    letters stay on ``store``: only the local SQLite recorder keeps them.
    """
    app = FastAPI(
        title="citylab dashboard",
        version=citylab.__version__,
        description="The citylab dashboard's API: the city map, devices and their readings, dead letters, "
        "live events (Server-Sent Events), labs, grading runs and the gradebook.",
        docs_url=None,
        redoc_url=None,
    )
    live_settings = LiveSettings(poll_seconds=poll_seconds)
    gradebook_file = Path(gradebook_path) if gradebook_path else store.path.parent / "gradebook.sqlite"
    app.state.store = store
    app.state.readings = readings if readings is not None else store
    app.state.live = live_settings
    app.state.hub = LiveHub(store, poll_seconds, live_settings.stopping.is_set)
    city_map, problem = try_load_map(city)
    app.state.city = CitySettings(map=city_map, site=site, problem=problem)
    app.state.grades = GradesReader(gradebook_file)
    app.state.runs = GradingRuns(gradebook_file, grader=grader, broker=broker)
    app.state.replay = Replay(store.path)
    app.state.auth = None
    if classroom is not None:
        sessions_file = Path(sessions_path) if sessions_path else \
            Path(classroom.path).parent / "dashboard-sessions.sqlite"
        app.state.auth = Auth(classroom, SessionStore(sessions_file), secure_cookies)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StoreError, _store_error)
    for module in (pages, session, health, city_routes, devices, dead_letters, live, labs, runs, gradebook,
                   replay):
        app.include_router(module.router)
    app.include_router(session.api)
    if classroom is not None:
        app.include_router(accounts.router)  # open mode has no accounts, and its API does not list them
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(Gate, app_ref=app)
    _check_rules(app)
    return app


def _check_rules(app: FastAPI) -> None:
    # A route without a rule would be open to anyone in classroom mode: refuse to build the app.
    for path, methods, _ in flat_routes(app):
        missing = [m for m in methods if rule_for(m, path) is None]
        if missing:
            raise CitylabError(f"the dashboard route {' '.join(sorted(missing))} {path} has no access rule: "
                               f"add one to dashboard/access.py RULES")


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    sentences = [_sentence(error) for error in errors]
    return JSONResponse(
        status_code=422,
        content={"detail": "; ".join(sentences), "errors": [_plain(error) for error in errors]},
    )


def _sentence(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = {"query": "query parameter", "path": "path parameter", "body": "request body"}.get(loc[0], loc[0]) \
        if loc else "request"
    name = loc[-1] if len(loc) > 1 else ""
    message = str(error.get("msg", "is not valid"))
    message = message[:1].lower() + message[1:]
    got = f" (got {error['input']!r})" if "input" in error and error["input"] is not None else ""
    if len(got) > 120:
        got = got[:117] + "...)"
    return f"{where} '{name}': {message}{got}"


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    # The raw pydantic error may hold exception objects that JSON cannot carry.
    return {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": error.get("type", "")}


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)})

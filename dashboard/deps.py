"""Typed dependencies: what a route may ask for, all hanging off ``app.state``.

There is no module-level state: two apps built by ``create_app`` in one
process never share a store, a hub, a city or a grading queue.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from citylab.stores import SQLiteStore
from dashboard.access import OPEN, Viewer
from dashboard.citymap import CityMap
from dashboard.grades import GradesReader
from dashboard.live_hub import LiveHub
from dashboard.replay import Replay
from dashboard.runs import GradingRuns


@dataclass
class LiveSettings:
    """How the Server-Sent Events stream polls the store, and when it must stop."""

    poll_seconds: float = 0.025
    heartbeat_seconds: float = 15.0
    # Set by DashboardServer.stop() so open streams end before uvicorn's
    # graceful-shutdown timeout, instead of being cancelled by it.
    stopping: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class CitySettings:
    """The city the map draws (None: started without one) and the site its devices publish under."""

    map: CityMap | None
    site: str
    problem: str = ""  # why there is no map


def get_store(request: Request) -> SQLiteStore:
    return request.app.state.store


def get_live(request: Request) -> LiveSettings:
    return request.app.state.live


def get_hub(request: Request) -> LiveHub:
    return request.app.state.hub


def get_city(request: Request) -> CitySettings:
    return request.app.state.city


def get_runs(request: Request) -> GradingRuns:
    return request.app.state.runs


def get_grades(request: Request) -> GradesReader:
    reader: GradesReader | None = request.app.state.grades
    if reader is None:
        raise HTTPException(status_code=404, detail="this dashboard was started without a gradebook")
    return reader


def get_replay(request: Request) -> Replay:
    return request.app.state.replay


def get_viewer(request: Request) -> Viewer:
    """Who asks: set by the gate (``gate.Gate``); ``OPEN`` in open mode."""
    viewer = request.scope.get("state", {}).get("viewer")
    if viewer is None:
        if request.app.state.auth is not None:
            raise HTTPException(status_code=401, detail="log in first: open /login")
        return OPEN
    return viewer


def get_auth(request: Request) -> Any:
    auth = request.app.state.auth
    if auth is None:
        raise HTTPException(status_code=404, detail="this dashboard runs without accounts (open mode): "
                                                    "start it with 'citylab up --classroom'")
    return auth


StoreDep = Annotated[SQLiteStore, Depends(get_store)]
LiveDep = Annotated[LiveSettings, Depends(get_live)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
CityDep = Annotated[CitySettings, Depends(get_city)]
RunsDep = Annotated[GradingRuns, Depends(get_runs)]
GradesDep = Annotated[GradesReader, Depends(get_grades)]
ReplayDep = Annotated[Replay, Depends(get_replay)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
AuthDep = Annotated[Any, Depends(get_auth)]  # gate.Auth (not imported here: gate imports deps' siblings)

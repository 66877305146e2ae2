"""Typed dependencies: what a route may ask for, all hanging off ``app.state``.

There is no module-level state: two apps built by ``create_app`` in one
process never share a store or a shutdown flag.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from citylab.stores import SQLiteStore


@dataclass
class LiveSettings:
    """How the Server-Sent Events stream polls the store, and when it must stop."""

    poll_seconds: float = 0.5
    heartbeat_seconds: float = 15.0
    batch: int = 1000
    # Set by DashboardServer.stop() so open streams end before uvicorn's
    # graceful-shutdown timeout, instead of being cancelled by it.
    stopping: threading.Event = field(default_factory=threading.Event)


def get_store(request: Request) -> SQLiteStore:
    return request.app.state.store


def get_live(request: Request) -> LiveSettings:
    return request.app.state.live


StoreDep = Annotated[SQLiteStore, Depends(get_store)]
LiveDep = Annotated[LiveSettings, Depends(get_live)]

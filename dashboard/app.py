"""Build the dashboard app around a store: ``create_app(store)``.

The app only reads. Errors reach the client as ``{"detail": "a sentence"}``:
a bad query parameter is a 422 that names the parameter, an unknown device a
404, a store that cannot be read a 503; never a 500 with a traceback.

/docs and /redoc are off: FastAPI's pages load Swagger UI and ReDoc from a
CDN, and nothing here may reach the internet. /openapi.json stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

import citylab
from citylab.errors import StoreError
from citylab.stores import SQLiteStore
from dashboard.deps import LiveSettings
from dashboard.routes import dead_letters, devices, health, live, pages

STATIC_DIR = Path(__file__).parent / "static"


def create_app(store: SQLiteStore, *, poll_seconds: float = 0.5) -> FastAPI:
    """A dashboard app reading ``store``; ``poll_seconds`` paces the live stream."""
    app = FastAPI(
        title="citylab dashboard",
        version=citylab.__version__,
        description="Read-only API over a citylab store: devices, readings, dead letters, live events.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.live = LiveSettings(poll_seconds=poll_seconds)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StoreError, _store_error)
    for module in (pages, health, devices, dead_letters, live):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


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
    where = {"query": "query parameter", "path": "path parameter"}.get(loc[0], loc[0]) if loc else "request"
    name = loc[-1] if len(loc) > 1 else ""
    message = str(error.get("msg", "is not valid"))
    message = message[:1].lower() + message[1:]
    got = f" (got {error['input']!r})" if "input" in error and error["input"] is not None else ""
    return f"{where} '{name}': {message}{got}"


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    # The raw pydantic error may hold exception objects that JSON cannot carry.
    return {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": error.get("type", "")}


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)})

"""GET /api/live: new readings and dead letters as Server-Sent Events.

The stream polls the store every ``poll_seconds`` in a worker thread (SQLite
is blocking) and sends, per poll, at most one batch of each kind:

    event: ready        data: {"reading_id": N, "dead_letter_id": M}   once, first
    event: reading      data: [{site, device, channel, name, unit, time, value}, ...]
    event: dead_letter  data: [{id, topic, site, device, payload, reason, kind, received, size}, ...]  newest first
    event: store_error  data: {"detail": "..."}  the store could not be read this time

A comment line keeps idle connections open through proxies. The stream ends
when the client goes away or the server is stopping.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from citylab.errors import StoreError
from citylab.stores import SQLiteStore
from dashboard.deps import LiveDep, LiveSettings, StoreDep

router = APIRouter(prefix="/api", tags=["live"])

# The browser reconnects after this many milliseconds when the stream drops.
RETRY_MS = 2000
CATCH_UP_BATCHES = 10


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def live(request: Request, store: StoreDep, settings: LiveDep, site: str | None = None) -> StreamingResponse:
    """New readings and dead letters as they are recorded (``site`` narrows to one site)."""
    return StreamingResponse(
        _events(request, store, settings, site or None),
        media_type="text/event-stream",
        # no-transform and X-Accel-Buffering keep proxies from holding events back.
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


def event(name: str, data: Any) -> str:
    """One SSE message; JSON on a single data line."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _events(
    request: Request, store: SQLiteStore, settings: LiveSettings, site: str | None
) -> AsyncIterator[str]:
    while True:
        try:
            reading_id, dead_id = await anyio.to_thread.run_sync(_cursors, store)
            break
        except StoreError as exc:
            # Headers are already sent: report in the stream, not as a status.
            yield event("store_error", {"detail": str(exc)})
            await anyio.sleep(settings.poll_seconds)
            if settings.stopping.is_set() or await request.is_disconnected():
                return
    yield f"retry: {RETRY_MS}\n" + event("ready", {"reading_id": reading_id, "dead_letter_id": dead_id})
    quiet_since = time.monotonic()
    while not settings.stopping.is_set() and not await request.is_disconnected():
        await anyio.sleep(settings.poll_seconds)
        if settings.stopping.is_set():
            break
        try:
            readings, reading_id, dead, dead_id = await anyio.to_thread.run_sync(
                _poll, store, settings.batch, site, reading_id, dead_id
            )
        except StoreError as exc:
            # The recorder may hold a long write; say so and try again next poll.
            yield event("store_error", {"detail": str(exc)})
            continue
        if readings:
            yield event("reading", readings)
        if dead:
            yield event("dead_letter", dead)
        if readings or dead:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settings.heartbeat_seconds:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


def _cursors(store: SQLiteStore) -> tuple[int, int]:
    newest = store.dead_letters(limit=1)
    return store.last_reading_id(), (newest[0]["id"] if newest else 0)


def _poll(
    store: SQLiteStore, batch: int, site: str | None, reading_id: int, dead_id: int
) -> tuple[list[dict[str, Any]], int, list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    # Catch up a few batches per poll under a flood rather than fall ever
    # further behind; past that the stream lags, and the page's periodic
    # snapshot of /api/devices still shows the latest values.
    for _ in range(CATCH_UP_BATCHES):
        more, reading_id = store.readings_after(reading_id, batch)
        rows.extend(row for row in more if site is None or row["site"] == site)
        if len(more) < batch:
            break
    dead = store.dead_letters(site=site, after_id=dead_id, limit=batch)
    if dead:
        dead_id = max(dead_id, dead[0]["id"])
    return rows, reading_id, dead, dead_id

"""GET /api/live: new readings and dead letters as Server-Sent Events.

Every stream is fed by the app's one ``LiveHub`` (see ``live_hub.py``):

    event: ready        data: {"reading_id": N, "dead_letter_id": M}   once, first
    event: reading      data: [{site, device, channel, name, unit, time, value}, ...]
    event: dead_letter  data: [{id, topic, site, device, payload, reason, kind, received, size}, ...]  newest first
    event: store_error  data: {"detail": "..."}  the store could not be read this time
    event: resync       data: {}  this client fell behind: reload the snapshot

A comment line keeps idle connections open through proxies. The stream ends
when the client goes away or the server is stopping, and in classroom mode
within ``RECHECK_SECONDS`` of its session ending (logout, expiry, revocation).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from citylab.errors import CitylabError, StoreError
from dashboard.deps import HubDep, LiveDep, LiveSettings, ViewerDep
from dashboard.gate import SESSION_COOKIE, cookie
from dashboard.live_hub import LiveHub

router = APIRouter(prefix="/api", tags=["live"])

# The browser reconnects after this many milliseconds when the stream drops.
RETRY_MS = 2000
# How often a waiting stream looks at the disconnect and stop flags.
CHECK_SECONDS = 0.25
# How often a classroom stream checks that its session is still alive.
RECHECK_SECONDS = 5.0


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def live(request: Request, hub: HubDep, settings: LiveDep, viewer: ViewerDep,
               site: str | None = None) -> StreamingResponse:
    """New readings and dead letters as they are recorded (``site`` narrows to one site; a trainee hears
    only their own site and the shared city)."""
    sites = frozenset([site]) if site else viewer.readable_sites()
    auth = request.app.state.auth
    session_id = cookie(request.scope, SESSION_COOKIE)
    alive = (lambda: auth.viewer(session_id) is not None) if auth is not None else (lambda: True)
    return StreamingResponse(
        _events(request, hub, settings, sites, alive),
        media_type="text/event-stream",
        # no-transform and X-Accel-Buffering keep proxies from holding events back.
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


def event(name: str, data: Any) -> str:
    """One SSE message; JSON on a single data line."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _events(request: Request, hub: LiveHub, settings: LiveSettings,
                  sites: frozenset[str] | None, alive: Callable[[], bool]) -> AsyncIterator[str]:
    while True:
        try:
            subscription = await hub.subscribe(sites)
            break
        except StoreError as exc:
            # Headers are already sent: report in the stream, not as a status.
            yield event("store_error", {"detail": str(exc)})
            await asyncio.sleep(settings.poll_seconds)
            if settings.stopping.is_set() or await request.is_disconnected():
                return
    try:
        yield f"retry: {RETRY_MS}\n" + event(
            "ready", {"reading_id": hub.reading_id, "dead_letter_id": hub.dead_letter_id})
        quiet_since = checked = time.monotonic()
        while not settings.stopping.is_set() and not await request.is_disconnected():
            if time.monotonic() - checked >= RECHECK_SECONDS:
                checked = time.monotonic()
                try:
                    if not await anyio.to_thread.run_sync(alive):
                        return  # logged out, expired or revoked: the browser reconnects and gets a 401
                except CitylabError:
                    pass  # the session file is busy: ask again next time rather than cut everyone off
            try:
                name, data = await asyncio.wait_for(subscription.queue.get(), CHECK_SECONDS)
            except asyncio.TimeoutError:
                if time.monotonic() - quiet_since >= settings.heartbeat_seconds:
                    yield ": keep-alive\n\n"
                    quiet_since = time.monotonic()
                continue
            yield event(name, data)
            quiet_since = time.monotonic()
            if subscription.overflowed:
                while not subscription.queue.empty():
                    subscription.queue.get_nowait()
                subscription.overflowed = False
                yield event("resync", {})
    finally:
        hub.unsubscribe(subscription)

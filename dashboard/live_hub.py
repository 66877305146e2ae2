"""One poller of the store per app, fanned out to every open live stream.

A page holds a Server-Sent Events stream open. If each stream polled the
store itself, 100 open pages would be 100 queries per poll; the hub polls
once and hands each subscriber the same batch, so the cost of a poll does not
grow with the audience and the poll can be short (25 ms), which is what keeps
"published -> on the page" well under a quarter of a second.

The hub runs as a task on the server's event loop, started by the first
subscriber and ended when the last one leaves, so an idle dashboard does not
touch the store at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from citylab.errors import StoreError
from citylab.stores import SQLiteStore

# Readings fetched per query; a flood is caught up a few batches per poll.
BATCH = 2000
CATCH_UP_BATCHES = 10
# A subscriber this far behind (a stalled browser tab) is told to reload
# its snapshot instead of holding the memory of everything it missed.
QUEUE_LIMIT = 200

Event = tuple[str, Any]


@dataclass(eq=False)
class Subscription:
    """One open stream: the sites it hears (None: every site) and the events waiting for it."""

    sites: frozenset[str] | None
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class LiveHub:
    """Polls ``store`` every ``poll_seconds`` while anyone listens, and fans out what is new."""

    def __init__(self, store: SQLiteStore, poll_seconds: float, stopping: Callable[[], bool]) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self._stopping = stopping
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self.reading_id = 0
        self.dead_letter_id = 0
        self.polls = 0

    async def subscribe(self, sites: frozenset[str] | None) -> Subscription:
        """Join to hear ``sites`` (None: all); the first subscriber reads the cursors and starts the poller.
        May raise StoreError."""
        subscription = Subscription(sites)
        if self._task is None or self._task.done():
            # Claim the poller before the first await, so two streams opening
            # at once start one poller, not two racing on the cursors.
            self._task = asyncio.get_running_loop().create_future()  # type: ignore[assignment]
            try:
                self.reading_id, self.dead_letter_id = await anyio.to_thread.run_sync(self._cursors)
            except BaseException:
                self._task = None
                raise
            self._subscribers.add(subscription)
            self._task = asyncio.get_running_loop().create_task(self._run())
        else:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def listeners(self) -> int:
        return len(self._subscribers)

    def _cursors(self) -> tuple[int, int]:
        newest = self.store.dead_letters(limit=1)
        return self.store.last_reading_id(), (newest[0]["id"] if newest else 0)

    async def _run(self) -> None:
        while self._subscribers and not self._stopping():
            await asyncio.sleep(self.poll_seconds)
            if not self._subscribers:
                break
            try:
                readings, dead = await anyio.to_thread.run_sync(self._poll)
            except StoreError as exc:
                # The recorder may hold a long write: say so, try again next poll.
                for sub in list(self._subscribers):
                    sub.offer(("store_error", {"detail": str(exc)}))
                continue
            self.polls += 1
            if readings or dead:
                self._fan_out(readings, dead)
        self._task = None

    def _poll(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        for _ in range(CATCH_UP_BATCHES):
            more, self.reading_id = self.store.readings_after(self.reading_id, BATCH)
            rows.extend(more)
            if len(more) < BATCH:
                break
        dead = self.store.dead_letters(after_id=self.dead_letter_id, limit=BATCH)
        if dead:
            self.dead_letter_id = max(self.dead_letter_id, dead[0]["id"])
        return rows, dead

    def _fan_out(self, readings: list[dict[str, Any]], dead: list[dict[str, Any]]) -> None:
        for sub in list(self._subscribers):
            mine = readings if sub.sites is None else [r for r in readings if r["site"] in sub.sites]
            if mine:
                sub.offer(("reading", mine))
            dead_mine = dead if sub.sites is None else [d for d in dead if d["site"] in sub.sites]
            if dead_mine:
                sub.offer(("dead_letter", dead_mine))

"""A sliding-window rate limit: at most ``limit`` events per ``seconds`` for each key.

Used for failed logins (per username and per client address) and for grading
runs (per account). Kept in the process's memory, per app: a restart forgets
it, which only gives a guesser a fresh minute, and a few dashboard processes
sharing a session file each keep their own count (the limit is then per
process; the sessions themselves are shared).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

# Keys are forgotten once this many are tracked, oldest first, so a flood of
# made-up usernames cannot grow memory without bound.
MAX_KEYS = 10_000


class RateLimit:
    """Counts events per key in the last ``seconds``."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """0 if ``key`` may go on; otherwise whole seconds until it may."""
        now = time.monotonic()
        with self._lock:
            events = self._events.get(key)
            if not events:
                return 0
            while events and now - events[0] >= self.seconds:
                events.popleft()
            if len(events) < self.limit:
                return 0
            return max(1, math.ceil(self.seconds - (now - events[0])))

    def hit(self, key: str) -> None:
        """Count one event for ``key``."""
        with self._lock:
            events = self._events.pop(key, None) or deque()
            events.append(time.monotonic())
            while len(events) > self.limit:
                events.popleft()
            self._events[key] = events  # re-inserted: dicts keep order, newest last
            while len(self._events) > MAX_KEYS:
                del self._events[next(iter(self._events))]

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

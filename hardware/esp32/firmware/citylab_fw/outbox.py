"""Readings taken while offline, kept in a bounded buffer and sent on reconnect.

A board has little RAM, so the buffer is bounded: when full, the oldest
reading goes and ``dropped`` says how many went, so nothing is lost silently.
"""


class Outbox:
    """A first-in first-out buffer of (taken_ticks_ms, taken_unix, values)."""

    def __init__(self, limit=200):
        if limit < 1:
            raise ValueError("the offline buffer must hold at least 1 reading")
        self.limit = limit
        self.items = []
        self.dropped = 0

    def __len__(self):
        return len(self.items)

    def put(self, item):
        if len(self.items) >= self.limit:
            self.items.pop(0)
            self.dropped += 1
        self.items.append(item)

    def peek(self):
        return self.items[0] if self.items else None

    def pop(self):
        """Remove the oldest item, once it has been sent."""
        return self.items.pop(0)

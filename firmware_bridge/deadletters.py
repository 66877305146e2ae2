"""Lines the bridge refused, kept with their reason, and a reporter that says so.

A refused line is never dropped silently: it is counted, kept (the last
``keep`` in memory, all of them in a JSON-lines file if one is given) and
reported to the person in one readable line. Reports are rate-limited per
port and kind, so a burst of line noise prints one line and a count, not a
screenful.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class DeadLetter:
    """One refused line: where it came from, why, and its first bytes."""

    port: str
    reason: str
    kind: str
    line: str
    size: int
    time: float
    device: str | None = None


class DeadLetters:
    """The refused lines: the last ``keep`` in memory, every one in ``path``."""

    def __init__(self, path: Path | None = None, keep: int = 1000, max_file_bytes: int = 10 * 1024 * 1024) -> None:
        self.path = path
        # Hours of line noise must not fill the disk: past this size the file
        # moves to <name>.1 (one old file kept) and a new one starts.
        self.max_file_bytes = max_file_bytes
        self.recent: deque[DeadLetter] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, port: str, reason: str, kind: str, line: bytes, device: str | None = None) -> DeadLetter:
        letter = DeadLetter(port, reason, kind, line[:200].decode("utf-8", "replace"), len(line),
                            time.time(), device)
        with self._lock:
            self.count += 1
            self.recent.append(letter)
            if self.path is not None:
                try:
                    if self.path.exists() and self.path.stat().st_size > self.max_file_bytes:
                        self.path.replace(self.path.with_name(self.path.name + ".1"))
                    with self.path.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(asdict(letter)) + "\n")
                except OSError:
                    self.path = None  # a full disk must not stop the bridge; memory still has them
        return letter


class Reporter:
    """One readable line per event, at most one per (port, kind) every ``every`` s."""

    def __init__(self, say: Callable[[str], None], every: float = 5.0) -> None:
        self.say = say
        self.every = every
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self, port: str, kind: str, text: str) -> None:
        key = (port, kind)
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e9) < self.every:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        more = f" (and {held} more like it since the last report)" if held else ""
        self.say(f"{port}: {text}{more}")

"""Waiting for something that happens in another thread or process, with a deadline."""

from __future__ import annotations

import time
from typing import Callable


def wait_until(condition: Callable[[], object], timeout: float = 10.0, every: float = 0.02) -> bool:
    """True as soon as ``condition()`` is truthy; False if ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False

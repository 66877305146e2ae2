"""Reconnection delays: exponential, capped, with jitter.

Jitter matters in a classroom: after a Wi-Fi outage thirty boards must not
hit the broker in the same millisecond.
"""

import random


class Backoff:
    """Delays of ``first_ms * 2**n`` up to ``cap_ms``, each with +-20 % jitter."""

    def __init__(self, first_ms=500, cap_ms=30000, jitter=0.2):
        self.first_ms = first_ms
        self.cap_ms = cap_ms
        self.jitter = jitter
        self.failures = 0

    def next_ms(self):
        """The delay before the next attempt; each call counts one more failure."""
        base = self.first_ms
        for _ in range(self.failures):
            base *= 2
            if base >= self.cap_ms:
                base = self.cap_ms
                break
        self.failures += 1
        # getrandbits exists on every MicroPython port; random() may not.
        spread = (random.getrandbits(16) / 65535.0) * 2.0 - 1.0
        return int(base * (1.0 + self.jitter * spread))

    def reset(self):
        """Call after a success: the next failure starts from ``first_ms`` again."""
        self.failures = 0

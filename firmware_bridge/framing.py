"""Cutting a serial byte stream into lines, whatever the wire delivers.

A line ends at ``\\n`` (a ``\\r`` before it is dropped). Bytes come in any
chunks: a line may arrive in pieces and several in one read. A line longer
than ``max_line`` is not kept in memory: its bytes are skipped up to the next
newline and it is counted once, so a 1 MB burst of noise costs a counter and
``max_line`` bytes of RAM, and the next line is read normally.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FramerStats:
    """What the framer had to throw away, for the bridge's counters."""

    lines: int = 0
    oversized: int = 0
    oversized_bytes: int = 0


class LineFramer:
    """Feed bytes in, get whole lines out (without their newline)."""

    def __init__(self, max_line: int = 20 * 1024) -> None:
        self.max_line = max_line
        self.stats = FramerStats()
        self._partial = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines ``data`` finishes; keeps the unfinished tail."""
        parts = data.split(b"\n")
        lines: list[bytes] = []
        last = len(parts) - 1
        for index, part in enumerate(parts):
            if index < last:  # this part ends with a newline
                if self._skipping:
                    self._skipping = False
                    self.stats.oversized_bytes += len(part) + 1
                    continue
                if self._partial:
                    self._partial += part
                    line = bytes(self._partial)
                    self._partial.clear()
                else:
                    line = part
                if len(line) > self.max_line:
                    self._count_oversized(len(line) + 1)
                    continue
                lines.append(line[:-1] if line.endswith(b"\r") else line)
            elif part:  # the unfinished tail
                if self._skipping:
                    self.stats.oversized_bytes += len(part)
                elif len(self._partial) + len(part) > self.max_line:
                    self._count_oversized(len(self._partial) + len(part))
                    self._partial.clear()
                    self._skipping = True
                else:
                    self._partial += part
        self.stats.lines += len(lines)
        return lines

    def _count_oversized(self, size: int) -> None:
        self.stats.oversized += 1
        self.stats.oversized_bytes += size

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held (lost if the device goes away now)."""
        return len(self._partial)

    def reset(self) -> int:
        """Forget the unfinished line (the device went away); return its length."""
        lost = len(self._partial) + (1 if self._skipping else 0)
        self._partial.clear()
        self._skipping = False
        return lost

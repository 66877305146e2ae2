"""The interface every store offers: write a batch, read time ranges and aggregates.

The recorder only calls ``write`` and ``close``; graders and the dashboard
call ``readings`` and ``aggregate``, so they work the same whether the data
is in SQLite or InfluxDB. (The dashboard's live view and dead-letter list use
SQLite-only methods; ``citylab up --store`` therefore runs a second recorder
into InfluxDB beside the SQLite one.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from citylab.errors import ConfigError

if TYPE_CHECKING:
    from citylab.stores.sqlite import Batch

FUNCTIONS = ("mean", "min", "max", "count", "sum")


def check_function(function: str) -> str:
    """An aggregate function name every store understands, or ConfigError."""
    if function not in FUNCTIONS:
        raise ConfigError(f"aggregate {function!r} is not one of {', '.join(FUNCTIONS)}")
    return function


@runtime_checkable
class Store(Protocol):
    """Where the recorder writes. ``write`` must be idempotent: the spool may replay a batch."""

    def write(self, batch: "Batch") -> None:
        """Store a batch, or raise StoreError (the recorder keeps it and tries again)."""

    def close(self) -> None:
        """Release connections; never raises."""


@runtime_checkable
class ReadingStore(Store, Protocol):
    """A store graders and the dashboard can read time ranges and aggregates from."""

    def readings(
        self,
        site: str,
        device: str,
        start: float | None = None,
        end: float | None = None,
        name: str | None = None,
        channel: str = "telemetry",
        limit: int = 10_000,
    ) -> list[dict[str, Any]]:
        """Readings ``{name, unit, time, value}`` in [start, end], oldest first, at most ``limit``."""

    def aggregate(
        self,
        site: str,
        device: str,
        name: str,
        start: float,
        end: float,
        every: float,
        function: str = "mean",
        channel: str = "telemetry",
    ) -> list[dict[str, Any]]:
        """``{time, value}`` per window of ``every`` seconds in [start, end), oldest first."""

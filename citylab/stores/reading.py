"""The interface every store offers: write a batch, read time ranges and aggregates.

The recorder only calls ``write`` and ``close``; graders and the dashboard
call ``readings`` and ``aggregate`` (and ``downsample``, built on it), so they
work the same whether the data is in SQLite or InfluxDB. (The dashboard's
device list, statuses, live view and dead-letter list use SQLite-only
methods: the latest value per quantity, the row order of arrival and the
refused payloads are what the local recorder keeps and InfluxDB's schema does
not. ``citylab up --store`` therefore runs a second recorder into InfluxDB
beside the SQLite one, and the charts read InfluxDB.)
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


def downsample(store: ReadingStore, site: str, device: str, name: str, start: float, end: float, points: int,
               channel: str = "telemetry") -> list[dict[str, Any]]:
    """A quantity over [start, end] as at most ``points`` windows ``{time, mean, min, max, n}``, oldest first.

    The store does the work (``aggregate``: SQL GROUP BY or InfluxQL GROUP BY
    time()), so a day of readings is never sent whole. ``time`` is the middle
    of each window; the extremes are kept so a spike is not averaged away.
    """
    every = max((end - start) / max(points, 1), 1e-3)
    # aggregate's end is exclusive; a chart ending at the newest reading must show it (stores keep microseconds).
    until = end + 1e-6
    columns = {function: {row["time"]: row["value"] for row in
                          store.aggregate(site, device, name, start, until, every, function, channel)}
               for function in ("mean", "min", "max", "count")}
    out = []
    for window in sorted(columns["mean"]):
        count = columns["count"].get(window) or 0
        if not count:
            continue
        out.append({"time": window + every / 2, "mean": columns["mean"][window],
                    "min": columns["min"].get(window, columns["mean"][window]),
                    "max": columns["max"].get(window, columns["mean"][window]), "n": int(count)})
    return out

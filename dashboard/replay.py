"""Replay: what every device of a site showed at a past moment, for the map's time slider.

``SQLiteStore`` reads one device at a time; a replay needs every device of a
site at once (10,000 on ``metropolis``), which is one grouped query. Until
the store grows a ``snapshot`` method, this module runs that query on its own
read-only connection to the same file (WAL mode: it never blocks the recorder).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from citylab.errors import StoreError

# A reading older than this before the chosen moment no longer counts as "what it showed".
DEFAULT_WINDOW_S = 3600.0


def _decode(value: float | None, text: str | None, kind: str) -> Any:
    return bool(value) if kind == "b" else text if kind == "s" else value


class Replay:
    """Read past states of a site from the store's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _rows(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
            try:
                db.row_factory = sqlite3.Row
                return db.execute(sql, params).fetchall()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the database {self.path}: {exc}") from exc

    def span(self, site: str) -> dict[str, float | None]:
        """The first and last reading time of a site (None, None if it has none)."""
        row = self._rows("SELECT MIN(time) AS start, MAX(time) AS end FROM readings WHERE site = ?", [site])[0]
        return {"start": row["start"], "end": row["end"]}

    def at(self, site: str, time: float, window: float = DEFAULT_WINDOW_S) -> list[dict[str, Any]]:
        """Each device's newest value per quantity in (time - window, time], as the live stream shapes readings."""
        # SQLite returns the bare columns of the row that holds MAX(time) in each group.
        rows = self._rows(
            "SELECT device, channel, name, unit, MAX(time) AS time, value, text, kind FROM readings"
            " WHERE site = ? AND time <= ? AND time > ? GROUP BY device, channel, name",
            [site, time, time - window],
        )
        return [{"site": site, "device": r["device"], "channel": r["channel"], "name": r["name"], "unit": r["unit"],
                 "time": r["time"], "value": _decode(r["value"], r["text"], r["kind"])} for r in rows]

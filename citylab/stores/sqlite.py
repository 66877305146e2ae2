"""The SQLite store: the embedded default for readings, statuses and dead letters.

One file holds everything a laptop run records. The recorder writes in
batches, one transaction each; the dashboard and graders read through the
same class from their own threads (one connection per thread, WAL mode so
readers never wait for the writer).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from citylab.contract import Reading
from citylab.errors import StoreError
from citylab.stores.reading import check_function

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL,
    name TEXT NOT NULL, unit TEXT NOT NULL,
    time REAL NOT NULL, value REAL, text TEXT, kind TEXT NOT NULL,
    received REAL NOT NULL
);
-- The latest value of each quantity, kept beside the history so the live
-- dashboard reads a few rows instead of scanning millions.
CREATE TABLE IF NOT EXISTS latest (
    site TEXT NOT NULL, device TEXT NOT NULL, channel TEXT NOT NULL, name TEXT NOT NULL,
    unit TEXT NOT NULL, time REAL NOT NULL, value REAL, text TEXT, kind TEXT NOT NULL,
    reading_id INTEGER NOT NULL,
    PRIMARY KEY (site, device, channel, name)
);
CREATE TABLE IF NOT EXISTS statuses (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, device TEXT NOT NULL, status TEXT NOT NULL, received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS statuses_by_device ON statuses (site, device, id);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL, device TEXT NOT NULL, command TEXT NOT NULL, received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL, site TEXT, device TEXT,
    payload TEXT NOT NULL, size INTEGER NOT NULL,
    reason TEXT NOT NULL, kind TEXT NOT NULL, received REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_site ON dead_letters (site, id);
"""

# Replaying the spool after a crash may write a batch twice: these keys make
# the second write a no-op. A reading is the same point when site, device,
# channel, name and its own time match; the rest carry the arrival time the
# spool kept. Older databases are de-duplicated once when the key is added.
UNIQUE_KEYS = {
    "readings_unique": ("readings", "site, device, channel, name, time"),
    "statuses_unique": ("statuses", "site, device, status, received"),
    "commands_unique": ("commands", "site, device, command, received"),
    "dead_letters_unique": ("dead_letters", "topic, reason, received"),
}

# A dead letter keeps enough of the payload to show the mistake, not a whole
# oversized pack.
DEAD_PAYLOAD_CHARS = 2048


@dataclass(frozen=True)
class DeadLetter:
    """A message the contract refused, with the reason in a trainee's words."""

    topic: str
    payload: bytes
    reason: str
    kind: str
    received: float
    site: str | None = None
    device: str | None = None


@dataclass
class Batch:
    """What the recorder writes in one transaction."""

    readings: list[tuple[str, Reading, float]] = field(default_factory=list)  # (channel, reading, received)
    statuses: list[tuple[str, str, str, float]] = field(default_factory=list)  # (site, device, status, received)
    commands: list[tuple[str, str, dict[str, Any], float]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.readings) + len(self.statuses) + len(self.commands) + len(self.dead_letters)


def _add_unique_keys(db: sqlite3.Connection) -> None:
    have = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    for index, (table, columns) in UNIQUE_KEYS.items():
        if index not in have:
            db.execute(f"DELETE FROM {table} WHERE id NOT IN (SELECT MIN(id) FROM {table} GROUP BY {columns})")
            db.execute(f"CREATE UNIQUE INDEX {index} ON {table} ({columns})")
    # readings_unique (site, device, channel, name, time) answers every query
    # the older readings_by_device did; one index less is a faster insert.
    db.execute("DROP INDEX IF EXISTS readings_by_device")


def _encode(value: Any) -> tuple[float | None, str | None, str]:
    if isinstance(value, bool):
        return (1.0 if value else 0.0), None, "b"
    if isinstance(value, str):
        return None, value, "s"
    return float(value), None, "v"


def _decode(value: float | None, text: str | None, kind: str) -> Any:
    if kind == "b":
        return bool(value)
    if kind == "s":
        return text
    return value


class SQLiteStore:
    """Readings, statuses, commands and dead letters in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect_new() as db:
                db.executescript(SCHEMA)
                _add_unique_keys(db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc

    def _connect_new(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect_new()
        return db

    def __reduce__(self) -> tuple[Any, ...]:
        # For the recorder's writer process: the file, not the connections.
        return (SQLiteStore, (self.path,))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- writing ----------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Write a batch in one transaction; raise StoreError if it cannot.

        Writing the same batch twice stores it once (see ``UNIQUE_KEYS``).
        """
        try:
            with self._db as db:
                rows = []
                newest: dict[tuple[str, str, str, str], tuple[Any, ...]] = {}
                for channel, r, received in batch.readings:
                    value, text, kind = _encode(r.value)
                    rows.append((r.site, r.device, channel, r.name, r.unit, r.time, value, text, kind, received))
                    key = (r.site, r.device, channel, r.name)
                    if key not in newest or r.time >= newest[key][5]:
                        newest[key] = rows[-1]
                # executemany runs the loop in C: several times faster than
                # one execute per reading at recorder rates.
                db.executemany(
                    "INSERT INTO readings (site, device, channel, name, unit, time, value, text, kind, received)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    rows,
                )
                # One upsert of `latest` per quantity and batch, not per reading.
                db.executemany(
                    "INSERT INTO latest (site, device, channel, name, unit, time, value, text, kind, reading_id)"
                    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, id FROM readings"
                    " WHERE site=?1 AND device=?2 AND channel=?3 AND name=?4 AND time=?6"
                    " ON CONFLICT (site, device, channel, name) DO UPDATE SET"
                    " unit=excluded.unit, time=excluded.time, value=excluded.value, text=excluded.text,"
                    " kind=excluded.kind, reading_id=excluded.reading_id"
                    " WHERE excluded.time >= latest.time",
                    [row[:9] for row in newest.values()],
                )
                db.executemany(
                    "INSERT INTO statuses (site, device, status, received) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                    batch.statuses,
                )
                db.executemany(
                    "INSERT INTO commands (site, device, command, received) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                    [(s, d, json.dumps(c, sort_keys=True), t) for s, d, c, t in batch.commands],
                )
                db.executemany(
                    "INSERT INTO dead_letters (topic, site, device, payload, size, reason, kind, received)"
                    " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    [
                        (
                            d.topic, d.site, d.device,
                            d.payload[:DEAD_PAYLOAD_CHARS * 4].decode("utf-8", "replace")[:DEAD_PAYLOAD_CHARS],
                            len(d.payload), d.reason, d.kind, d.received,
                        )
                        for d in batch.dead_letters
                    ],
                )
        except sqlite3.Error as exc:
            full = "full" in str(exc).lower()
            advice = ": free disk space there; the recorder keeps the messages in its spool meanwhile" if full else ""
            raise StoreError(f"cannot write to the database {self.path}: {exc}{advice}") from exc

    # --- reading ----------------------------------------------------------

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the database {self.path}: {exc}") from exc

    def devices(self, site: str | None = None) -> list[dict[str, Any]]:
        """Every device seen, with its latest value per quantity and its status."""
        where, params = ("WHERE site = ?", [site]) if site else ("", [])
        devices: dict[tuple[str, str], dict[str, Any]] = {}
        for row in self._query(f"SELECT * FROM latest {where} ORDER BY site, device, channel, name", params):
            device = devices.setdefault(
                (row["site"], row["device"]),
                {"site": row["site"], "device": row["device"], "last_seen": 0.0, "status": None,
                 "telemetry": {}, "state": {}},
            )
            device[row["channel"]][row["name"]] = {
                "value": _decode(row["value"], row["text"], row["kind"]), "unit": row["unit"], "time": row["time"],
            }
            device["last_seen"] = max(device["last_seen"], row["time"])
        status_sql = (
            "SELECT site, device, status, received FROM statuses WHERE id IN"
            f" (SELECT MAX(id) FROM statuses {where} GROUP BY site, device)"
        )
        for row in self._query(status_sql, params):
            device = devices.setdefault(
                (row["site"], row["device"]),
                {"site": row["site"], "device": row["device"], "last_seen": row["received"],
                 "status": None, "telemetry": {}, "state": {}},
            )
            device["status"] = row["status"]
        return [devices[key] for key in sorted(devices)]

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
        """A device's readings in a time range, oldest first."""
        sql = "SELECT name, unit, time, value, text, kind, received FROM readings WHERE site=? AND device=? AND channel=?"
        params: list[Any] = [site, device, channel]
        if start is not None:
            sql += " AND time >= ?"
            params.append(start)
        if end is not None:
            sql += " AND time <= ?"
            params.append(end)
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        # Newest `limit` rows, then oldest first, so a chart shows the recent end.
        sql = f"SELECT * FROM ({sql} ORDER BY time DESC LIMIT ?) ORDER BY time"
        params.append(limit)
        return [
            {"name": r["name"], "unit": r["unit"], "time": r["time"],
             "value": _decode(r["value"], r["text"], r["kind"]), "received": r["received"]}
            for r in self._query(sql, params)
        ]

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
        """One value per ``every`` seconds of a quantity (mean, min, max, count, sum), oldest first.

        ``time`` is the start of each window, as InfluxQL's GROUP BY time() gives it.
        """
        sql_function = check_function(function).upper().replace("MEAN", "AVG")
        rows = self._query(
            f"SELECT CAST(time / ? AS INTEGER) * ? AS window, {sql_function}(value) AS value FROM readings"
            " WHERE site=? AND device=? AND channel=? AND name=? AND time >= ? AND time < ? AND kind='v'"
            " GROUP BY window ORDER BY window",
            (every, every, site, device, channel, name, start, end),
        )
        return [{"time": float(r["window"]), "value": r["value"]} for r in rows]

    def readings_after(self, after_id: int, limit: int = 1000) -> tuple[list[dict[str, Any]], int]:
        """Readings recorded after row ``after_id``, for live views; returns (rows, last id)."""
        rows = self._query(
            "SELECT id, site, device, channel, name, unit, time, value, text, kind FROM readings"
            " WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        out = [
            {"site": r["site"], "device": r["device"], "channel": r["channel"], "name": r["name"],
             "unit": r["unit"], "time": r["time"], "value": _decode(r["value"], r["text"], r["kind"])}
            for r in rows
        ]
        return out, (rows[-1]["id"] if rows else after_id)

    def last_reading_id(self) -> int:
        return self._query("SELECT COALESCE(MAX(id), 0) AS id FROM readings")[0]["id"]

    def statuses(self, site: str, device: str | None = None) -> list[dict[str, Any]]:
        """Status changes (online/offline) of a site's devices, oldest first."""
        sql, params = "SELECT site, device, status, received FROM statuses WHERE site=?", [site]
        if device:
            sql += " AND device=?"
            params.append(device)
        return [dict(r) for r in self._query(sql + " ORDER BY id", params)]

    def commands(self, site: str, device: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT site, device, command, received FROM commands WHERE site=?", [site]
        if device:
            sql += " AND device=?"
            params.append(device)
        return [{**dict(r), "command": json.loads(r["command"])} for r in self._query(sql + " ORDER BY id", params)]

    def dead_letters(
        self, site: str | None = None, device: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Refused messages, newest first, with topic, reason and payload."""
        sql, params = "SELECT * FROM dead_letters WHERE id > ?", [after_id]
        if site:
            sql += " AND site=?"
            params.append(site)
        if device:
            sql += " AND device=?"
            params.append(device)
        params.append(limit)
        return [dict(r) for r in self._query(sql + " ORDER BY id DESC LIMIT ?", params)]

    def counts(self) -> dict[str, int]:
        """How many rows of each kind are stored."""
        return {
            table: self._query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
            for table in ("readings", "statuses", "commands", "dead_letters")
        }

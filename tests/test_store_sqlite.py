"""The SQLite store: replayed batches are stored once, old databases gain the key, a full disk is a sentence."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from citylab import contract
from citylab.errors import StoreError
from citylab.stores import Batch, DeadLetter, SQLiteStore
from test_spool import tiny_disk  # noqa: F401 (fixture)


def batch_of(count: int, device: str = "env-01") -> Batch:
    batch = Batch()
    for i in range(count):
        pack = contract.build_pack("sq", device, [("temperature", "Cel", 20.0 + i), ("seq", "count", i)],
                                   base_time=1_800_000_000 + i)
        batch.readings.extend(("telemetry", r, 5.0 + i) for r in contract.validate_message(
            contract.topic("sq", device, "telemetry"), pack, 5.0 + i).readings)
    batch.statuses.append(("sq", device, "online", 5.0))
    batch.commands.append(("sq", "lamp-1", {"set": {"dim": 30}}, 6.0))
    batch.dead_letters.append(DeadLetter("citylab/sq/x/telemetry", b"nope", "not JSON", "json", 7.0, "sq", "x"))
    return batch


def test_a_replayed_batch_is_stored_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "once.sqlite")
    batch = batch_of(50)
    store.write(batch)
    store.write(batch)
    assert store.counts() == {"readings": 100, "statuses": 1, "commands": 1, "dead_letters": 1}
    latest = store.devices("sq")[0]["telemetry"]["seq"]
    assert latest["value"] == 49.0 and latest["time"] == 1_800_000_049


def test_an_old_database_with_duplicates_is_cleaned_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before the uniqueness keys, with a doubled reading
        db.executescript(
            "CREATE TABLE readings (id INTEGER PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,"
            " channel TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL, time REAL NOT NULL, value REAL,"
            " text TEXT, kind TEXT NOT NULL, received REAL NOT NULL);"
            "CREATE INDEX readings_by_device ON readings (site, device, name, time);"
        )
        row = ("sq", "env-01", "telemetry", "seq", "count", 1.0, 7.0, None, "v", 1.0)
        db.executemany("INSERT INTO readings (site, device, channel, name, unit, time, value, text, kind, received)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?)", [row, row])
    store = SQLiteStore(path)
    assert [r["value"] for r in store.readings("sq", "env-01")] == [7.0]
    store.write(batch_of(3))
    assert store.counts()["readings"] == 7


def test_a_full_disk_is_a_sentence_and_the_database_stays_whole(tiny_disk: Path) -> None:  # noqa: F811
    store = SQLiteStore(tiny_disk / "full.sqlite")
    written = 0
    with pytest.raises(StoreError) as caught:
        for n in range(1000):
            store.write(batch_of(100, device=f"d-{n}"))
            written += 1
    assert "full" in str(caught.value) and "free disk space" in str(caught.value)
    assert written > 0
    assert store.counts()["readings"] == written * 200  # every committed batch, no part of the failed one
    store.close()

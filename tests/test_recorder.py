"""The recorder keeps every valid message and dead-letters the rest, through real brokers."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from citylab import contract, mqtt
from citylab.errors import StoreError
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
from test_spool import tiny_disk  # noqa: F401 (fixture)
import waiting


def wait_until(condition, timeout: float = 15.0) -> bool:
    return waiting.wait_until(condition, timeout, every=0.05)


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_valid_messages_are_stored_and_bad_ones_dead_lettered(any_broker: BrokerAddress, tmp_path: Path,
                                                              writer: str) -> None:
    store = SQLiteStore(tmp_path / "run.sqlite")
    recorder = Recorder(any_broker, store, topic_filter="citylab/rec-test/#", qos=0, writer=writer).start()
    client = mqtt.make_client("test")
    mqtt.connect(client, any_broker)
    mqtt.wait_connected(client, any_broker)
    try:
        sent = 300
        # Garbage first and in between: it must not stop the valid ones behind it.
        client.publish("citylab/rec-test/env-01/telemetry", b"\xff\xfe not json")
        for i in range(sent):
            pack = contract.build_pack("rec-test", "env-01", [("temperature", "Cel", 20.0 + i / 100), ("seq", "count", i)],
                                       base_time=1_800_000_000 + i)
            client.publish(contract.topic("rec-test", "env-01", "telemetry"), pack, qos=1)
        client.publish("citylab/rec-test/env-01/telemetry",
                       b'[{"bn":"urn:citylab:rec-test:env-01:","n":"temperature","u":"C","v":1}]')
        client.publish("citylab/rec-test/env-01/status", b"online", qos=1, retain=True)
        client.publish("citylab/rec-test/lamp-1/cmd", b'{"set": {"dim": 30}}', qos=1)
        client.publish("citylab/rec-test/BAD/telemetry", b"[]")
        assert wait_until(lambda: recorder.stats.recorded + recorder.stats.dead_letters >= sent + 5), recorder.stats
    finally:
        mqtt.stop(client)
        recorder.stop()

    readings = store.readings("rec-test", "env-01", name="seq")
    assert [r["value"] for r in readings] == [float(i) for i in range(sent)]
    assert store.statuses("rec-test", "env-01")[-1]["status"] == "online"
    assert store.commands("rec-test", "lamp-1")[0]["command"] == {"set": {"dim": 30}}
    dead = {d["kind"]: d for d in store.dead_letters(site="rec-test")}
    assert set(dead) == {"json", "unit", "topic"}
    assert "use 'Cel'" in dead["unit"]["reason"]
    assert "not UTF-8" in dead["json"]["reason"]
    assert "device id 'BAD'" in dead["topic"]["reason"]
    devices = store.devices("rec-test")
    env = next(d for d in devices if d["device"] == "env-01")
    assert env["status"] == "online"
    assert env["telemetry"]["seq"]["value"] == sent - 1


def test_unreachable_broker_is_a_clear_error(tmp_path: Path) -> None:
    from citylab.broker import free_port
    from citylab.errors import BrokerError

    port = free_port()
    recorder = Recorder(BrokerAddress("127.0.0.1", port), SQLiteStore(tmp_path / "x.sqlite"), connect_attempts=2)
    try:
        recorder.start()
    except BrokerError as exc:
        assert f"mqtt://127.0.0.1:{port}" in str(exc) and "is it running?" in str(exc)
    else:
        raise AssertionError("connecting to a closed port must raise BrokerError")


class GateStore(SQLiteStore):
    """A real SQLite store that refuses writes while its gate is shut (a store that is down)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.open = threading.Event()

    def write(self, batch) -> None:  # type: ignore[no-untyped-def]
        if not self.open.is_set():
            raise StoreError("the test's store is down")
        super().write(batch)


def publish_sequence(broker: BrokerAddress, site: str, count: int) -> None:
    client = mqtt.make_client("test-seq")
    mqtt.connect(client, broker)
    mqtt.wait_connected(client, broker)
    try:
        infos = [client.publish(contract.topic(site, "env-01", "telemetry"),
                                contract.build_pack(site, "env-01", [("seq", "count", i), ("temperature", "Cel", 20.0)],
                                                    base_time=1_800_000_000 + i), qos=1) for i in range(count)]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        mqtt.stop(client)


def stored_seq(db: Path, site: str) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [int(v) for (v,) in conn.execute(
            "SELECT value FROM readings WHERE site=? AND name='seq' ORDER BY value", (site,))]


def test_a_full_spool_disk_is_a_sentence_and_the_broker_keeps_the_rest(
        mosquitto: BrokerAddress, tiny_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    count, db = 6000, tmp_path / "full.sqlite"  # about twice what 256 KiB of spool holds
    store = GateStore(db)  # down: everything goes to the spool, on a 256 KiB disk
    recorder = Recorder(mosquitto, store, topic_filter="citylab/full-disk/#", spool=tiny_disk / "spool",
                        client_id="test-full-disk", max_retry_seconds=0.2).start()
    try:
        with caplog.at_level(logging.ERROR, logger="citylab.recorder"):
            threading.Thread(target=publish_sequence, args=(mosquitto, "full-disk", count), daemon=True).start()
            assert wait_until(lambda: recorder.stats.spool_errors > 0, 30), recorder.stats
            time.sleep(1)
            spooled = recorder.backlog_bytes()
            # What the disk took is kept; the rest waits, unacknowledged, for room. (Mosquitto 2.0
            # does not hold it back at its in-flight window, so it waits in the recorder's memory,
            # up to MAX_PENDING_QOS1 messages.)
            assert 0 < spooled <= 256 * 1024, recorder.stats
            assert recorder.stats.recorded == 0 and recorder.stats.lost == 0, recorder.stats
        said = [r.getMessage() for r in caplog.records if "free disk space" in r.getMessage()]
        assert said and str(tiny_disk / "spool") in said[0] and "wait unacknowledged until it has room" in said[0]
        store.open.set()  # the store is back: the spool drains, its room is freed, the broker sends the rest
        assert wait_until(lambda: len(stored_seq(db, "full-disk")) >= count, 60), recorder.stats
        time.sleep(0.5)
    finally:
        recorder.stop()
    assert stored_seq(db, "full-disk") == list(range(count))


def test_past_its_memory_bound_a_full_disk_leaves_messages_with_the_broker_until_a_restart(
        mosquitto: BrokerAddress, tiny_disk: Path, tmp_path: Path) -> None:
    count, db = 6000, tmp_path / "bound.sqlite"
    store = GateStore(db)
    recorder = Recorder(mosquitto, store, topic_filter="citylab/bound/#", spool=tiny_disk / "spool",
                        client_id="test-bound", max_retry_seconds=0.2, max_pending=500).start()
    try:
        threading.Thread(target=publish_sequence, args=(mosquitto, "bound", count), daemon=True).start()
        assert wait_until(lambda: recorder.stats.left_with_broker > 0, 30), recorder.stats
        time.sleep(1)
        assert len(recorder._pending) <= 500, recorder.stats  # memory stays bounded
    finally:
        recorder.stop()
    # The disk has room again and the recorder starts afresh on the same session: the broker
    # sends what was never acknowledged, and every message is stored once.
    store = GateStore(db)
    store.open.set()
    recorder = Recorder(mosquitto, store, topic_filter="citylab/bound/#", spool=tmp_path / "spool2",
                        client_id="test-bound", max_retry_seconds=0.2).start()
    try:
        # What the first recorder spooled on the tiny disk is stored by one started on that spool.
        leftover = Recorder(mosquitto, store, topic_filter="citylab/none/#", spool=tiny_disk / "spool",
                            client_id="test-bound-leftover", max_retry_seconds=0.2).start()
        try:
            assert wait_until(lambda: len(stored_seq(db, "bound")) >= count, 60), recorder.stats
        finally:
            leftover.stop()
    finally:
        recorder.stop()
    assert stored_seq(db, "bound") == list(range(count))


def test_a_killed_writer_process_is_started_again_and_nothing_is_lost(mosquitto: BrokerAddress,
                                                                      tmp_path: Path) -> None:
    count, db = 4000, tmp_path / "writer.sqlite"
    recorder = Recorder(mosquitto, SQLiteStore(db), topic_filter="citylab/writer-kill/#", spool=tmp_path / "spool",
                        client_id="test-writer-kill", writer="process").start()
    try:
        publisher = threading.Thread(target=publish_sequence, args=(mosquitto, "writer-kill", count), daemon=True)
        publisher.start()
        assert wait_until(lambda: recorder.stats.recorded > 200, 30), recorder.stats
        first = recorder._process
        os.kill(first.pid, signal.SIGKILL)
        assert wait_until(lambda: recorder._process is not first and recorder._process.is_alive(), 10)
        publisher.join(60)
        assert wait_until(lambda: len(stored_seq(db, "writer-kill")) >= count, 60), recorder.stats
    finally:
        recorder.stop()
    assert stored_seq(db, "writer-kill") == list(range(count))

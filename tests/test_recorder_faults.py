"""Nothing lost, nothing doubled: sequence-numbered streams through broker restarts, store outages and kill -9.

Each test publishes thousands of QoS 1 packs, each carrying its sequence
number as a reading at its own time, breaks something on the way, and then
checks that every sequence number is stored exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from pathlib import Path

from citylab import contract, mqtt
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore, StoreURL, open_store
from influx_fixtures import InfluxV1, PersistentMosquitto, persistent_mosquitto  # noqa: F401 (fixture)

T0 = 1_790_000_000.0


class Publisher(threading.Thread):
    """Publishes packs 0..count-1 at about ``rate`` per second; paho queues them while the broker is away."""

    def __init__(self, broker: BrokerAddress, site: str, count: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.broker, self.site, self.count, self.rate = broker, site, count, rate
        self.client = mqtt.make_client("faults", clean_session=False, ident=f"faults-pub-{site}")
        self.client.reconnect_delay_set(0.1, 1)
        mqtt.connect(self.client, broker)
        mqtt.wait_connected(self.client, broker)
        self.sent = 0

    def run(self) -> None:
        start = time.monotonic()
        for i in range(self.count):
            pack = contract.build_pack(self.site, "seq-01", [("seq", "count", i), ("temperature", "Cel", 20.0)],
                                       base_time=T0 + i)
            self.client.publish(f"citylab/{self.site}/seq-01/telemetry", pack, qos=1)
            self.sent = i + 1
            ahead = self.sent / self.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    def close(self) -> None:
        mqtt.stop(self.client)


def stored_sequence(db: Path, site: str) -> list[int]:
    store = SQLiteStore(db)
    try:
        return [int(r["value"]) for r in store.readings(site, "seq-01", name="seq", limit=1_000_000)]
    finally:
        store.close()


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_broker_restart_loses_and_doubles_nothing(persistent_mosquitto: PersistentMosquitto, tmp_path: Path,
                                                  writer: str) -> None:
    count, db = 5000, tmp_path / "restart.sqlite"
    recorder = Recorder(persistent_mosquitto.address, SQLiteStore(db), topic_filter="citylab/restart/#",
                        spool=tmp_path / "spool", client_id="faults-recorder-restart", writer=writer).start()
    publisher = Publisher(persistent_mosquitto.address, "restart", count, rate=1000)
    publisher.start()
    try:
        assert wait_for(lambda: publisher.sent > 1500, 10)
        persistent_mosquitto.stop()
        time.sleep(2)
        persistent_mosquitto.start()
        publisher.join(30)
        assert wait_for(lambda: len(stored_sequence(db, "restart")) >= count, 60)
        time.sleep(1)  # anything doubled would arrive now
    finally:
        publisher.close()
        recorder.stop()
    assert stored_sequence(db, "restart") == list(range(count))


def test_store_down_for_30_seconds_is_spooled_and_replayed(mosquitto: BrokerAddress, tmp_path: Path) -> None:
    influx = InfluxV1(_folder(tmp_path / "influx")).start()
    count = 8000
    recorder = Recorder(mosquitto, open_store(StoreURL.parse(influx.store_url())), topic_filter="citylab/outage/#",
                        spool=tmp_path / "spool", client_id="faults-recorder-outage", writer="process").start()
    publisher = Publisher(mosquitto, "outage", count, rate=200)  # 40 s of traffic
    publisher.start()
    try:
        assert wait_for(lambda: publisher.sent > 500, 10)
        influx.stop()
        down_at = time.monotonic()
        time.sleep(30)
        assert recorder.stats.write_errors > 0 and recorder.backlog_bytes() > 0  # it really was spooling
        influx.start()
        publisher.join(30)

        def stored() -> int:
            rows = influx.query("SELECT count(seq) FROM weather WHERE site = 'outage'")
            return rows[0]["values"][0][1] if rows else 0

        assert wait_for(lambda: stored() >= count, 60), (stored(), recorder.stats)
        assert time.monotonic() - down_at > 30
    finally:
        publisher.close()
        recorder.stop()
        influx.stop()
    influx.start()
    try:
        series = influx.query("SELECT seq FROM weather WHERE site = 'outage'")
    finally:
        influx.stop()
    assert [int(v[1]) for v in series[0]["values"]] == list(range(count))


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


RECORDER_PROCESS = """
import sys, time, logging
from pathlib import Path
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import SQLiteStore
logging.basicConfig(level=logging.WARNING)
broker, db, spool = BrokerAddress.parse(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
recorder = Recorder(broker, SQLiteStore(db), topic_filter="citylab/killed/#", spool=spool,
                    client_id="faults-recorder-killed", writer="process").start()
print("ready", recorder._process.pid, flush=True)
while True:
    time.sleep(1)
"""


def start_recorder_process(broker: BrokerAddress, db: Path, spool: Path) -> tuple[subprocess.Popen[str], int]:
    """The recorder in a process of its own, and the pid of its writer process."""
    process = subprocess.Popen([sys.executable, "-c", RECORDER_PROCESS, broker.url, str(db), str(spool)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    word, writer = process.stdout.readline().split()
    assert word == "ready"
    return process, int(writer)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_9_of_the_recorder_loses_and_doubles_nothing(mosquitto: BrokerAddress, tmp_path: Path) -> None:
    count, db, spool = 6000, tmp_path / "killed.sqlite", tmp_path / "spool"
    process, writer = start_recorder_process(mosquitto, db, spool)
    publisher = Publisher(mosquitto, "killed", count, rate=1500)
    publisher.start()
    try:
        for _ in range(2):  # killed twice, mid-stream
            assert wait_for(lambda: len(stored_sequence(db, "killed")) > 500, 20)
            time.sleep(0.7)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            # The writer process sees its recorder gone and stops: no orphan keeps writing.
            assert wait_for(lambda: not alive(writer), 5), f"the writer process {writer} outlived its recorder"
            time.sleep(0.5)  # the broker holds the session's messages meanwhile
            process, writer = start_recorder_process(mosquitto, db, spool)
        publisher.join(30)
        assert wait_for(lambda: len(stored_sequence(db, "killed")) >= count, 60)
        time.sleep(1)
    finally:
        publisher.close()
        process.terminate()
        process.wait(10)
    assert stored_sequence(db, "killed") == list(range(count))

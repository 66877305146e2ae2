"""InfluxDB through both APIs against real servers: the schema, reading back, and bad input."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from citylab import contract, mqtt
from citylab.errors import ConfigError, StoreError
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import Batch, ReadingStore, SQLiteStore, StoreURL, open_store
from citylab.stores.influx_v1 import InfluxV1Store
from influx_fixtures import InfluxV1, VictoriaMetrics, influx_v1, locked_victoria, victoria  # noqa: F401 (fixtures)
import waiting

NOW = float(int(time.time()) // 3600 * 3600 - 3600)  # whole hours: aggregate windows line up


def batch_of(site: str, count: int, start: float = NOW) -> Batch:
    batch = Batch()
    for i in range(count):
        pack = contract.build_pack(site, "env-01", [("temperature", "Cel", 20.0 + i % 10), ("humidity", "%RH", 50.0),
                                                    ("seq", "count", i), ("label", "", f"n{i}")],
                                   base_time=start + i)
        message = contract.validate_message(contract.topic(site, "env-01", "telemetry"), pack, start + i)
        batch.readings.extend(("telemetry", r, start + i) for r in message.readings)
    batch.statuses.append((site, "env-01", "online", start))
    return batch


def wait_until(condition, timeout: float = 20.0) -> bool:
    return waiting.wait_until(condition, timeout, every=0.1)


def test_v1_recorder_writes_the_documented_schema(influx_v1: InfluxV1, mosquitto: BrokerAddress, tmp_path: Path) -> None:
    store = open_store(StoreURL.parse(influx_v1.store_url()))
    assert isinstance(store, InfluxV1Store)  # chosen from the server's answer on /ping
    recorder = Recorder(mosquitto, store, topic_filter="citylab/v1-schema/#", spool=tmp_path / "spool").start()
    client = mqtt.make_client("test")
    mqtt.connect(client, mosquitto)
    mqtt.wait_connected(client, mosquitto)
    try:
        for i in range(200):
            pack = contract.build_pack("v1-schema", "aq-01", [("pm2_5", "ug/m3", 10.0 + i), ("seq", "count", i)],
                                       base_time=NOW + i)
            client.publish("citylab/v1-schema/aq-01/telemetry", pack, qos=1)
        client.publish("citylab/v1-schema/lamp-1/state",
                       contract.build_pack("v1-schema", "lamp-1", [("dim", "%", 40), ("on", "", True)], NOW), qos=1)
        assert wait_until(lambda: recorder.stats.recorded >= 201), recorder.stats
    finally:
        mqtt.stop(client)
        recorder.stop()
    series = influx_v1.query("SELECT * FROM air_quality WHERE site = 'v1-schema' GROUP BY *")
    by_unit = {s["tags"]["unit"]: s for s in series}
    assert set(by_unit) == {"ug/m3", "count"}
    assert by_unit["ug/m3"]["tags"] == {"site": "v1-schema", "device": "aq-01", "unit": "ug/m3"}
    rows = [dict(zip(by_unit["ug/m3"]["columns"], v)) for v in by_unit["ug/m3"]["values"]]
    assert [r["pm2_5"] for r in rows] == [10.0 + i for i in range(200)]
    assert [r["time"] for r in rows] == [int((NOW + i) * 1e6) for i in range(200)]  # the reading's own time
    state = influx_v1.query("SELECT \"on\", dim FROM state WHERE device = 'lamp-1' GROUP BY *")
    assert {s["tags"].get("unit", "") for s in state} == {"", "%"}


def test_v1_and_sqlite_answer_the_same_reading_interface(influx_v1: InfluxV1, tmp_path: Path) -> None:
    influx = open_store(StoreURL.parse(influx_v1.store_url()))
    sqlite = SQLiteStore(tmp_path / "same.sqlite")
    assert isinstance(influx, ReadingStore) and isinstance(sqlite, ReadingStore)
    batch = batch_of("same", 120)
    for store in (influx, sqlite):
        store.write(batch)
        store.write(batch)  # a replay: harmless
    args = ("same", "env-01")
    a, b = influx.readings(*args, name="temperature"), sqlite.readings(*args, name="temperature")
    assert [(r["time"], r["value"], r["unit"]) for r in a] == [(r["time"], r["value"], r["unit"]) for r in b]
    assert len(a) == 120
    ranged = influx.readings(*args, start=NOW + 10, end=NOW + 19)
    assert {r["name"] for r in ranged} == {"temperature", "humidity", "seq", "label"} and len(ranged) == 40
    assert ranged[0]["time"] == NOW + 10
    for function in ("mean", "max", "count"):
        x = influx.aggregate(*args, "temperature", NOW, NOW + 120, 60, function)
        y = sqlite.aggregate(*args, "temperature", NOW, NOW + 120, 60, function)
        assert x == y and len(x) == 2, (function, x, y)
    assert influx_v1.query("SELECT count(seq) FROM weather WHERE site = 'same'")[0]["values"][0][1] == 120


def test_v2_write_api_against_victoria_metrics(victoria: VictoriaMetrics) -> None:
    store = open_store(StoreURL.parse(f"influx://127.0.0.1:{victoria.port}/citylab?org=school&token=t0ken"))
    batch = batch_of("v2", 300)
    store.write(batch)
    store.write(batch)  # replayed: the same points
    found = victoria.export('{__name__="weather_temperature", site="v2"}')
    assert len(found) == 1
    assert found[0]["metric"] == {"__name__": "weather_temperature", "site": "v2", "device": "env-01", "unit": "Cel"}
    assert found[0]["timestamps"] == [int((NOW + i) * 1000) for i in range(300)]
    assert found[0]["values"] == [20.0 + i % 10 for i in range(300)]
    seq = victoria.export('{__name__="weather_seq", site="v2"}')
    assert seq[0]["values"] == [float(i) for i in range(300)]


# --- bad input ---------------------------------------------------------------


def test_wrong_password_or_database_says_what_to_fix(influx_v1: InfluxV1) -> None:
    with pytest.raises(StoreError, match="refused the credentials.*check the user and password"):
        open_store(StoreURL.parse(influx_v1.store_url(password="wrong")))
    with pytest.raises(StoreError, match="no database 'nosuch'.*CREATE DATABASE"):
        open_store(StoreURL.parse(influx_v1.store_url(db="nosuch")))


def test_a_server_that_is_down_is_waited_for_not_refused(tmp_path: Path) -> None:
    from citylab.broker import free_port

    store = open_store(StoreURL.parse(f"influx://u:p@127.0.0.1:{free_port()}/citylab"))
    with pytest.raises(StoreError, match="cannot reach InfluxDB at http://127.0.0.1:.*is it running"):
        store.write(batch_of("down", 1))


@pytest.mark.parametrize("url, message", [
    ("http://localhost:8086/db", "must start with sqlite://, influx://"),
    ("influx://localhost:8086", "must name one database"),
    ("influx://localhost:99999/db", "port that is not a number"),
    ("influx://localhost/db?bukcet=x", "unknown options bukcet"),
    ("influx://localhost/db?api=v3", "api must be v1 or v2"),
    ("citylab.txt", "not a store URL"),
])
def test_malformed_store_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StoreURL.parse(url)


class _Answer(http.server.BaseHTTPRequestHandler):
    version_header = "0.13.0"

    def do_GET(self) -> None:
        self.send_response(204)
        if self.version_header:
            self.send_header("X-Influxdb-Version", self.version_header)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def old_server() -> Iterator[int]:
    # Only a /ping answer is needed to test the version check; no InfluxDB 0.x exists to install.
    server = http.server.HTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_an_unsupported_version_is_named(old_server: int) -> None:
    with pytest.raises(StoreError, match="is InfluxDB 0.13.0, which citylab does not support"):
        open_store(StoreURL.parse(f"influx://127.0.0.1:{old_server}/db"))


def test_a_server_that_does_not_say_its_version_needs_api(victoria: VictoriaMetrics) -> None:
    with pytest.raises(ConfigError, match=r"add \?api=v1 or \?api=v2"):
        open_store(StoreURL.parse(f"influx://127.0.0.1:{victoria.port}/db"))


def test_a_token_for_an_influxdb_without_the_v2_api_is_refused(influx_v1: InfluxV1) -> None:
    with pytest.raises(ConfigError, match=r"has no v2 API \(1.8 was the first\)"):
        open_store(StoreURL.parse(f"influx://127.0.0.1:{influx_v1.port}/citylab?token=abc"))


def test_v2_a_refused_token_says_what_to_fix(locked_victoria: VictoriaMetrics) -> None:
    store = open_store(StoreURL.parse(f"influx://127.0.0.1:{locked_victoria.port}/citylab?org=o&token=wrong"))
    with pytest.raises(StoreError, match="refused the token.*check the token in the store URL or "
                                         r"\$CITYLAB_INFLUX_TOKEN, and that it may write to bucket 'citylab'"):
        store.write(batch_of("locked", 1))

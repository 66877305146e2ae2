"""InfluxDB through both APIs against real servers: the schema, reading back, and bad input."""

from __future__ import annotations

import http.server
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from citylab import contract, mqtt
from citylab.errors import ConfigError, StoreError
from citylab.mqtt import BrokerAddress
from citylab.recorder import Recorder
from citylab.stores import Batch, ReadingStore, SQLiteStore, StoreURL, open_store
from citylab.stores.influx_v1 import InfluxV1Store
from citylab.stores.influx_v2 import InfluxV2Store
from influx_fixtures import INFLUX_DB, INFLUX_PASSWORD, INFLUX_USER
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


# --- reading back through one interface -------------------------------------------


def day_of(site: str, start: float, every: float = 60.0) -> Batch:
    """A day of temperature readings, one every ``every`` seconds, 0..9 repeating (real contract packs)."""
    batch = Batch()
    for i in range(int(86_400 / every)):
        t = start + i * every
        pack = contract.build_pack(site, "env-01", [("temperature", "Cel", float(i % 10))], base_time=t)
        batch.readings.extend(("telemetry", r, t) for r in
                              contract.validate_message(contract.topic(site, "env-01", "telemetry"), pack, t).readings)
    return batch


def test_dashboard_charts_read_influxdb_and_downsample_a_day(influx_v1: InfluxV1, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from dashboard.app import create_app

    start = NOW - 86_400
    influx = open_store(StoreURL.parse(influx_v1.store_url()))
    day = day_of("charts", start)
    influx.write(day)
    local = SQLiteStore(tmp_path / "local.sqlite")  # the live view's store: it has only the newest reading
    local.write(Batch(readings=day.readings[-1:]))
    full = SQLiteStore(tmp_path / "full.sqlite")  # the same day in SQLite, to compare with
    full.write(day)
    last = day.readings[-1][1].time
    app = create_app(local, readings=influx, city=None, gradebook_path=tmp_path / "g.sqlite")
    with TestClient(app) as client:
        rows = client.get("/api/devices/charts/env-01/readings",
                          params={"name": "temperature", "start": start, "end": last, "limit": 5000}).json()
        assert len(rows) == 1440 and rows[0]["time"] == start  # from InfluxDB, not the one SQLite row
        body = client.get("/api/devices/charts/env-01/series",
                          params={"name": "temperature", "seconds": 86_400, "points": 24}).json()
    points = body["points"]
    # Averaged by InfluxDB (GROUP BY time(1h)): 24 windows of 60 readings, not 1440 readings sent.
    assert len(points) in (24, 25) and sum(p["n"] for p in points) == 1440, points
    full_hours = [p for p in points if p["n"] == 60]
    assert len(full_hours) >= 23 and all(p["min"] == 0.0 and p["max"] == 9.0 for p in full_hours)
    assert all(abs(p["mean"] - 4.5) < 1e-9 for p in full_hours)
    # The same windows from SQLite: one interface, one answer.
    from citylab.stores.reading import downsample

    args = ("charts", "env-01", "temperature", body["start"], body["end"], 24)
    assert downsample(full, *args) == downsample(influx, *args) == points


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards /query to the real influxd, trading the v2 store's token for 1.x credentials."""

    target = ""
    seen: list[tuple[str, dict[str, str], str | None]] = []

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(parts.query))
        self.seen.append((parts.path, dict(params), self.headers.get("Authorization")))
        params.update(u=INFLUX_USER, p=INFLUX_PASSWORD)
        try:
            with urllib.request.urlopen(f"{self.target}{parts.path}?{urllib.parse.urlencode(params)}") as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            status, body = refused.code, refused.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_v2_reads_send_token_and_bucket_and_influxql_a_real_server_answers(influx_v1: InfluxV1) -> None:
    # No InfluxDB 2/3 installs here. The v2 store reads with InfluxQL on /query
    # (2.x through its DBRP mapping, 3.x natively) with a token header; this runs
    # that code against the real 1.x server through a proxy that checks the
    # token and bucket, so only the 2.x server's side stays untested.
    v1 = open_store(StoreURL.parse(influx_v1.store_url()))
    v1.write(batch_of("v2-read", 120))
    _Proxy.target, _Proxy.seen = influx_v1.url, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        v2 = InfluxV2Store.open(f"http://127.0.0.1:{server.server_address[1]}", INFLUX_DB, token="t0ken", org="school")
        args = ("v2-read", "env-01")
        assert v2.readings(*args, name="temperature") == v1.readings(*args, name="temperature")
        assert len(v2.readings(*args, start=NOW + 10, end=NOW + 19)) == 40
        for function in ("mean", "min", "max", "count", "sum"):
            assert v2.aggregate(*args, "temperature", NOW, NOW + 120, 60, function) == \
                v1.aggregate(*args, "temperature", NOW, NOW + 120, 60, function)
        v2.close()
    finally:
        server.shutdown()
    assert _Proxy.seen and all(path == "/query" and params["db"] == INFLUX_DB and auth == "Token t0ken"
                               and "u" not in params for path, params, auth in _Proxy.seen)
    assert any("GROUP BY time(60000000u)" in params["q"] for _, params, _ in _Proxy.seen)


def test_stores_can_be_handed_to_the_writer_process(influx_v1: InfluxV1, tmp_path: Path) -> None:
    import pickle

    for store in (SQLiteStore(tmp_path / "p.sqlite"), open_store(StoreURL.parse(influx_v1.store_url())),
                  InfluxV2Store.open("http://127.0.0.1:1", "bucket", token="t", org="o")):
        again = pickle.loads(pickle.dumps(store))
        assert type(again) is type(store) and isinstance(again, ReadingStore)
        store.close()
        again.close()
    assert pickle.loads(pickle.dumps(open_store(StoreURL.parse(influx_v1.store_url())))).readings("none", "x") == []

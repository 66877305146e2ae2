"""``citylab record --store``: the right store, or one line saying what to fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from citylab import contract, mqtt
from citylab.broker import free_port
from citylab.mqtt import BrokerAddress
from citylab.stores import Batch, StoreURL, open_store
from influx_fixtures import InfluxV1, influx_v1  # noqa: F401 (fixture)
import waiting


def record(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citylab.cli", "record", *args],
                          capture_output=True, text=True, timeout=timeout)


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_a_wrong_password_stops_record_with_one_line(influx_v1: InfluxV1, mosquitto: BrokerAddress,
                                                     tmp_path: Path) -> None:
    done = record("--broker", mosquitto.url, "--data", str(tmp_path),
                  "--store", influx_v1.store_url(password="nope"))
    assert done.returncode == 1
    assert done.stderr.startswith("citylab: error: InfluxDB at http://127.0.0.1:") and "check the user and password" \
        in done.stderr
    assert "Traceback" not in done.stderr and "nope" not in done.stderr  # no secrets echoed back


def test_a_malformed_store_url_is_refused_before_anything_starts(tmp_path: Path) -> None:
    done = record("--store", "postgres://x/y", "--data", str(tmp_path))
    assert done.returncode == 1
    assert "must start with sqlite://, influx:// or influxs://" in done.stderr


def test_up_with_an_influx_store_draws_charts_from_influxdb(influx_v1: InfluxV1, tmp_path: Path) -> None:
    http_port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "CITYLAB_DATA": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    up = subprocess.Popen([sys.executable, "-m", "citylab.cli", "up", "--no-sim", "--http-port", str(http_port),
                           "--mqtt-port", str(mqtt_port), "--store", influx_v1.store_url()],
                          env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{http_port}/api/devices/upstore/env-01"
    try:
        assert up.stdout is not None
        banner = [up.stdout.readline() for _ in range(5)]
        assert any("(charts read it)" in line for line in banner), banner
        broker = BrokerAddress("127.0.0.1", mqtt_port)
        client = mqtt.make_client("test-up-store")
        mqtt.connect(client, broker)
        mqtt.wait_connected(client, broker)
        now = float(int(time.time()))
        for i in range(20):
            client.publish(contract.topic("upstore", "env-01", "telemetry"),
                           contract.build_pack("upstore", "env-01", [("seq", "count", i)], base_time=now + i))
        mqtt.stop(client)
        influx = open_store(StoreURL.parse(influx_v1.store_url()))
        assert waiting.wait_until(lambda: len(influx.readings("upstore", "env-01")) == 20, 30, every=0.2)
        # Readings only InfluxDB has (an hour before): the charts show them, so they read InfluxDB.
        older = Batch()
        for i in range(10):
            pack = contract.build_pack("upstore", "env-01", [("seq", "count", 100 + i)], base_time=now - 3600 + i)
            older.readings.extend(("telemetry", r, now) for r in contract.validate_message(
                contract.topic("upstore", "env-01", "telemetry"), pack, now).readings)
        influx.write(older)
        rows = get_json(f"{base}/readings?name=seq&start={now - 4000}&end={now + 100}")
        assert [r["value"] for r in rows] == [100.0 + i for i in range(10)] + [float(i) for i in range(20)]
        assert all(r["received"] is None for r in rows)  # InfluxDB keeps no arrival time
        series = get_json(f"{base}/series?name=seq&seconds=86400&points=24")  # a day: aggregated by InfluxDB
        assert sum(p["n"] for p in series["points"]) == 30
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=30)
    assert up.returncode == 0

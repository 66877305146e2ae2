"""``citylab record --store``: the right store, or one line saying what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from citylab.mqtt import BrokerAddress
from influx_fixtures import InfluxV1, influx_v1  # noqa: F401 (fixture)


def record(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citylab.cli", "record", *args],
                          capture_output=True, text=True, timeout=timeout)


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

"""How long `citylab up` takes to start, to show live values, and to stop.

    .venv/bin/python bench/startup.py [--runs 3] [--speed 1]

Runs the real command on free ports with a temporary data folder, as a new
user would, and prints, per run and as the median: seconds to the "Press
Ctrl-C" banner, seconds until the dashboard API shows values for the city's
devices, seconds from Ctrl-C (SIGINT) to exit, and readings recorded per
second over a 10 s stretch.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from citylab.broker import free_port


def one_run(speed: float) -> dict[str, float]:
    http, mqtt_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "CITYLAB_DATA": data, "PYTHONUNBUFFERED": "1"}
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "citylab.cli", "up", "--http-port", str(http), "--mqtt-port", str(mqtt_port),
             "--speed", str(speed)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            if "Press Ctrl-C" in line:
                break
        banner = time.perf_counter() - start
        url = f"http://127.0.0.1:{http}/api/devices"
        while True:
            with urllib.request.urlopen(url, timeout=5) as response:
                devices = json.load(response)
            if devices and all(d["telemetry"] for d in devices):
                break
            time.sleep(0.05)
        live = time.perf_counter() - start
        health = f"http://127.0.0.1:{http}/api/health"
        with urllib.request.urlopen(health) as response:
            before = json.load(response)["counts"]["readings"]
        time.sleep(10)
        with urllib.request.urlopen(health) as response:
            after = json.load(response)["counts"]["readings"]
        stop_at = time.perf_counter()
        process.send_signal(signal.SIGINT)
        process.wait(30)
        stopped = time.perf_counter() - stop_at
        return {"banner": banner, "live": live, "stop": stopped, "readings_per_s": (after - before) / 10}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        result = one_run(args.speed)
        runs.append(result)
        print(f"run {i + 1}: banner {result['banner']:.2f} s, all devices live {result['live']:.2f} s, "
              f"stop {result['stop']:.2f} s, {result['readings_per_s']:.0f} readings/s recorded", flush=True)
    for key, label in (("banner", "start-up to banner"), ("live", "start-up to all devices live"),
                       ("stop", "Ctrl-C to exit")):
        print(f"median {label}: {statistics.median(r[key] for r in runs):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

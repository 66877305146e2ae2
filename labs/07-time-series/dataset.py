"""Lab 07's dataset: two days of weather and traffic-counter telemetry, and the truth.

Read by the grader (labs/engine/analysis.py), which calls ``make(rng, site)``
with a generator seeded from the lab and the site. Each row is one reading,
as JSON: its own time in Unix seconds (UTC), the device, its district, its
type (the measurement it belongs in) and its values. Weather stations report
temperature and humidity every 5 minutes, a few seconds off the minute as
real devices do; traffic counters report the vehicles counted in the last 5
minutes, and miss a reading now and then.

One hour of each counter is made a trap: a few of its quieter readings are
lost, so that hour has the highest *mean* per reading but not the most
vehicles. The busiest hour is the one with the largest *sum*.

The truth is computed with numpy from the rows themselves, bucketed the way
InfluxDB buckets ``GROUP BY time(...)``: from the Unix epoch, in UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

FORMAT = "jsonl"
START = int(datetime(2025, 10, 6, tzinfo=timezone.utc).timestamp())  # a Monday, 00:00 UTC
HOURS = 48
INTERVAL_S = 300
DOWNSAMPLE_S = 900  # the 15-minute means written INTO weather_15m
DISTRICTS = ("harbour", "old-town", "university", "riverside", "market")
DROPOUT = 0.04  # share of counter readings lost at random


def iso(t: int) -> str:
    """Unix seconds as the RFC 3339 text InfluxDB answers with."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _times(rng: np.random.Generator) -> np.ndarray:
    # Each reading stays inside its own 5-minute slot: a few seconds off, never in the next one.
    slots = START + np.arange(HOURS * 3600 // INTERVAL_S) * INTERVAL_S
    return slots + 150 + rng.integers(-90, 91, slots.size)


def _weather(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = _times(rng)
    hod = (t - START) % 86400 / 3600
    base, swing = rng.uniform(6, 16), rng.uniform(3, 7)
    temperature = base + swing * np.sin((hod - 9) / 24 * 2 * np.pi) + rng.normal(0, 0.3, t.size)
    humidity = np.clip(75 - 2.5 * (temperature - base) + rng.normal(0, 2, t.size), 20, 100)
    return t, np.round(temperature, 1), np.round(humidity, 1)


def _hour_stats(t: np.ndarray, v: np.ndarray) -> dict[int, tuple[int, float]]:
    hours = t // 3600 * 3600
    return {int(h): (int(v[hours == h].sum()), float(v[hours == h].mean())) for h in np.unique(hours)}


def _traffic(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = _times(rng)
    hod = (t - START) % 86400 / 3600
    rush = (rng.uniform(0.8, 1.2) * np.exp(-0.5 * ((hod - 8) / 1.0) ** 2)
            + rng.uniform(0.8, 1.2) * np.exp(-0.5 * ((hod - 17.5) / 1.3) ** 2))
    night = np.where((hod < 6) | (hod > 22), 0.3, 1.0)
    vehicles = rng.poisson(rng.uniform(20, 40) * night + rng.uniform(50, 90) * rush)
    keep = rng.random(t.size) >= DROPOUT
    t, vehicles = t[keep], vehicles[keep]
    stats = _hour_stats(t, vehicles)
    # One busiest hour, clearly: the runner-up is at least 5 vehicles behind.
    ranked = sorted(stats, key=lambda h: stats[h][0], reverse=True)
    busiest, runner_up = ranked[0], ranked[1]
    gap = stats[busiest][0] - stats[runner_up][0]
    if gap < 5:
        vehicles[np.flatnonzero(t // 3600 * 3600 == busiest)[0]] += 5 - gap
    # The trap: another busy hour loses its quietest readings until its mean is the highest.
    trap = ranked[2]
    while True:
        stats = _hour_stats(t, vehicles)
        best_other = max(mean for h, (_, mean) in stats.items() if h != trap)
        if stats[trap][1] > best_other + 2:
            break
        idx = np.flatnonzero(t // 3600 * 3600 == trap)
        if idx.size <= 5:
            # Too few left: lift the remaining readings instead (still fewer vehicles than the busiest hour).
            vehicles[idx] += 3
            continue
        drop = idx[np.argmin(vehicles[idx])]
        t, vehicles = np.delete(t, drop), np.delete(vehicles, drop)
    return t, vehicles


def _means(t: np.ndarray, v: np.ndarray, width: int) -> dict[str, float]:
    buckets = t // width * width
    return {iso(int(b)): float(v[buckets == b].mean()) for b in np.unique(buckets)}


def make(rng: np.random.Generator, site: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (one reading each, in time order) and the truth the checks judge by."""
    districts = list(rng.permutation(DISTRICTS))
    n_weather, n_traffic = int(rng.integers(3, 5)), int(rng.integers(2, 4))
    rows: list[dict[str, Any]] = []
    truth: dict[str, Any] = {"start": START, "end": START + HOURS * 3600, "hourly_temperature": {},
                             "weather_15m": {}, "busiest_hour": {}, "trap_hour": {}, "devices": {}}
    for i in range(n_weather):
        device, district = f"env-{i + 1:02d}", str(districts[i % len(districts)])
        t, temperature, humidity = _weather(rng)
        rows += [{"time": int(a), "device": device, "district": district, "type": "weather",
                  "temperature": float(b), "humidity": float(c)} for a, b, c in zip(t, temperature, humidity)]
        truth["devices"][device] = {"measurement": "weather", "district": district, "times": [int(x) for x in t]}
        truth["hourly_temperature"][device] = _means(t, temperature, 3600)
        quarter_t, quarter_h = _means(t, temperature, DOWNSAMPLE_S), _means(t, humidity, DOWNSAMPLE_S)
        truth["weather_15m"][device] = {k: {"temperature": quarter_t[k], "humidity": quarter_h[k]} for k in quarter_t}
    for i in range(n_traffic):
        device, district = f"tc-{i + 1:02d}", str(districts[(n_weather + i) % len(districts)])
        t, vehicles = _traffic(rng)
        rows += [{"time": int(a), "device": device, "district": district, "type": "traffic",
                  "vehicles": int(b)} for a, b in zip(t, vehicles)]
        truth["devices"][device] = {"measurement": "traffic", "district": district, "times": [int(x) for x in t]}
        stats = _hour_stats(t, vehicles)
        busiest = max(stats, key=lambda h: stats[h][0])
        trap = max(stats, key=lambda h: stats[h][1])
        truth["busiest_hour"][device] = {"time": iso(busiest), "vehicles": stats[busiest][0]}
        truth["trap_hour"][device] = {"time": iso(trap), "vehicles": stats[trap][0],
                                      "mean": round(stats[trap][1], 1)}
    rows.sort(key=lambda r: (r["time"], r["device"]))
    return rows, truth

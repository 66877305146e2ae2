"""Lab 05's dataset: hourly PM2.5, PM10, NO2 and O3 at a few stations, and the truth.

Read by the grader (labs/engine/analysis.py), which calls ``make(rng, site)``
with a generator seeded from the lab and the site. The concentrations are
plausible rather than real: a traffic cycle with morning and evening rush
hours for NO2 (and a little PM), an afternoon ozone peak fed by sunshine and
eaten by NO2 at traffic stations, and episodes: a winter-like PM inversion
of a day or two, and a hot afternoon for ozone. Values are rounded to 0.1
ug/m3 before the truth is computed, so the truth is what the trainee can
compute from the file.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

FORMAT = "csv"
POLLUTANTS = ("pm2_5", "pm10", "no2", "o3")
BAND_NAMES = ("Good", "Fair", "Moderate", "Poor", "Very poor", "Extremely poor")
# Upper bounds (ug/m3, inclusive) of Good..Very poor; above the last is Extremely poor.
# The EEA's revised European Air Quality Index: see the lab's README for the source.
THRESHOLDS = {
    "pm2_5": (5.0, 15.0, 50.0, 90.0, 140.0),
    "pm10": (15.0, 45.0, 120.0, 195.0, 270.0),
    "no2": (10.0, 25.0, 60.0, 100.0, 150.0),
    "o3": (60.0, 100.0, 120.0, 160.0, 180.0),
}
WINDOW_H = 24  # PM is banded on the mean of the hour and the 23 before
ALERT_FROM = 3  # "Poor" and worse
DAYS = 5
START = datetime(2026, 3, 2, tzinfo=timezone.utc)


def band(pollutant: str, value: float) -> int:
    """0 (Good) to 5 (Extremely poor); a value on a bound belongs to the lower band."""
    return sum(value > bound for bound in THRESHOLDS[pollutant])


def _series(rng: np.random.Generator, traffic: bool, hours: int) -> dict[str, np.ndarray]:
    t = np.arange(hours)
    hod = t % 24
    rush = np.exp(-0.5 * ((hod - 8) / 1.3) ** 2) + 0.8 * np.exp(-0.5 * ((hod - 18) / 1.6) ** 2)
    weekday = np.where((t // 24) % 7 < 5, 1.0, 0.6)
    sun = np.clip(np.sin((hod - 7) / 12 * np.pi), 0, None)
    # An inversion: PM builds up for a day or two, somewhere in the middle of the week.
    start = rng.integers(30, hours - 60)
    length = rng.integers(24, 48)
    inversion = np.clip(1 - np.abs(t - start - length / 2) / (length / 2), 0, None) * rng.uniform(35, 90)
    # A hot afternoon: ozone well above its usual peak.
    hot_day = rng.integers(1, hours // 24)
    heat = np.where(t // 24 == hot_day, sun * rng.uniform(50, 110), 0.0)
    no2_peak = rng.uniform(45, 80) if traffic else rng.uniform(12, 25)
    no2 = (rng.uniform(8, 16) + no2_peak * rush * weekday + 0.4 * inversion
           + rng.normal(0, 3, hours))
    pm2_5 = rng.uniform(4, 10) + 6 * rush * weekday * traffic + inversion + rng.gamma(2, 1.2, hours)
    pm10 = pm2_5 * rng.uniform(1.4, 1.9) + rng.gamma(2, 2.5, hours) + 8 * rush * traffic
    o3 = rng.uniform(30, 50) + rng.uniform(30, 60) * sun + heat - 0.5 * no2 * traffic + rng.normal(0, 4, hours)
    return {name: np.round(np.clip(values, 0.5, None), 1)
            for name, values in (("pm2_5", pm2_5), ("pm10", pm10), ("no2", no2), ("o3", o3))}


def make(rng: np.random.Generator, site: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (station, time, pm2_5, pm10, no2, o3), and the truth the checks judge by."""
    hours = DAYS * 24
    names = [f"{kind}-{i}" for i, kind in enumerate(("traffic", "traffic", "park", "park")[: rng.integers(3, 5)], 1)]
    times = [(START + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(hours)]
    rows: list[dict[str, Any]] = []
    truth_hours: dict[tuple[str, str], dict[str, Any]] = {}
    alerts: list[tuple[str, str]] = []
    for station in names:
        series = _series(rng, station.startswith("traffic"), hours)
        for h in range(hours):
            rows.append({"station": station, "time": times[h], **{p: float(series[p][h]) for p in POLLUTANTS}})
        previous = 0
        for h in range(WINDOW_H - 1, hours):
            value = {p: float(series[p][h]) for p in ("no2", "o3")}
            for p in ("pm2_5", "pm10"):
                value[p] = float(np.mean(series[p][h - WINDOW_H + 1: h + 1]))
            bands = {p: band(p, value[p]) for p in POLLUTANTS}
            index = max(bands.values())
            truth_hours[(station, times[h])] = {"value": value, "bands": bands, "index": index}
            if index >= ALERT_FROM > previous:
                alerts.append((station, times[h]))
            previous = index
    return rows, {"thresholds": THRESHOLDS, "band_names": BAND_NAMES, "hours": truth_hours,
                  "alerts": alerts, "alert_from": ALERT_FROM}

"""Lab 08's dataset: a fleet of street temperature sensors, some of them faulty, and the truth.

Read by the grader (labs/engine/analysis.py), which calls ``make(rng, site)``
with a generator seeded from the lab and the site. Every sensor sees the
city's weather (one daily cycle for all, a fixed offset of its own for its
street, a little noise); the generator then breaks some of them, one fault
each, and remembers which:

- stuck: from some moment the sensor repeats its last value for hours;
- drift: it slowly walks away from the others, by several degrees in the end;
- outliers: isolated readings far off (a loose contact, sun on the casing);
- dropout: readings missing, in long gaps.

Healthy sensors are not perfect either, as in a real fleet: some lose a
reading now and then, and some have a single glitch of a few degrees. Those
are not faults, and a program that flags them loses precision.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

FORMAT = "jsonl"
KINDS = ("stuck", "drift", "outliers", "dropout")
SENSORS = 40
PER_KIND = 3  # faulty sensors of each kind: 12 of 40
STEP_MIN = 15
SLOTS = 3 * 24 * 60 // STEP_MIN  # three days
START = datetime(2026, 3, 9, tzinfo=timezone.utc)


def make(rng: np.random.Generator, site: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows {"sensor", "time", "value"} (missing readings are absent), and the faulty sensors' kinds."""
    hours = np.arange(SLOTS) * STEP_MIN / 60
    weather = (rng.uniform(4, 12) + rng.uniform(3, 6) * np.sin((hours - 9) / 24 * 2 * np.pi)
               + np.cumsum(rng.normal(0, 0.05, SLOTS)))
    names = [f"t-{i:02d}" for i in range(1, SENSORS + 1)]
    broken = rng.permutation(SENSORS)[: PER_KIND * len(KINDS)]
    faults = {names[i]: KINDS[n // PER_KIND] for n, i in enumerate(broken)}
    times = [(START + timedelta(minutes=STEP_MIN * s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in range(SLOTS)]
    rows: list[dict[str, Any]] = []
    for name in names:
        values = weather + rng.normal(0, 0.8) + rng.normal(0, 0.15, SLOTS)
        present = np.ones(SLOTS, dtype=bool)
        kind = faults.get(name)
        if kind == "stuck":
            start = rng.integers(SLOTS // 8, SLOTS - 48)
            length = rng.integers(16, 48)  # 4 to 12 hours
            values[start: start + length] = values[start]
        elif kind == "drift":
            start = rng.integers(0, SLOTS // 3)
            ramp = np.clip((np.arange(SLOTS) - start) / (SLOTS - start), 0, None)
            values += ramp * rng.uniform(3, 6) * rng.choice((-1, 1))
        elif kind == "outliers":
            spikes = rng.choice(SLOTS, rng.integers(4, 10), replace=False)
            values[spikes] += rng.uniform(8, 20, len(spikes)) * rng.choice((-1, 1), len(spikes))
        elif kind == "dropout":
            for _ in range(rng.integers(2, 4)):
                start = rng.integers(0, SLOTS - 24)
                present[start: start + rng.integers(8, 24)] = False  # 2 to 6 hours each
        else:
            # Healthy, as real sensors are: a lost reading, a single glitch.
            if rng.random() < 0.5:
                present[rng.integers(0, SLOTS)] = False
            if rng.random() < 0.45:
                values[rng.integers(0, SLOTS)] += rng.uniform(3, 4.5) * rng.choice((-1, 1))
        values = np.round(values, 2)
        rows.extend({"sensor": name, "time": times[s], "value": float(values[s])}
                    for s in range(SLOTS) if present[s])
    # Sorted by time, as a collector would write them, not sensor by sensor.
    rows.sort(key=lambda r: (r["time"], r["sensor"]))
    return rows, {"faults": faults, "sensors": names}

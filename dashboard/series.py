"""A quantity's history squeezed into at most ``points`` buckets for a chart.

A day of readings every 10 s is 8,640 values per quantity; a chart 600
pixels wide shows no more than a few hundred. Each bucket keeps the mean and
the extremes, so a spike does not vanish when it is averaged away.
"""

from __future__ import annotations

from typing import Any


def bucket(rows: list[dict[str, Any]], start: float, end: float, points: int) -> list[dict[str, Any]]:
    """Numeric ``rows`` (oldest first) as buckets ``{time, mean, min, max, n}`` over [start, end]."""
    numeric = [(r["time"], float(r["value"])) for r in rows
               if isinstance(r["value"], (int, float)) and not isinstance(r["value"], bool)]
    if len(numeric) <= points:
        return [{"time": t, "mean": v, "min": v, "max": v, "n": 1} for t, v in numeric]
    width = max((end - start) / points, 1e-9)
    buckets: dict[int, list[float]] = {}
    times: dict[int, float] = {}
    for t, v in numeric:
        index = min(int((t - start) / width), points - 1)
        buckets.setdefault(index, []).append(v)
        times[index] = times.get(index, 0.0) + t
    return [
        {"time": times[i] / len(vs), "mean": sum(vs) / len(vs), "min": min(vs), "max": max(vs), "n": len(vs)}
        for i, vs in sorted(buckets.items())
    ]

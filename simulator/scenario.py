"""Scenario events: what happens to the city, scheduled in its file or injected while it runs.

An event is a row: its kind, when it starts (simulated seconds after the
run's start), how long it lasts, where (a district, some devices, or the
whole city) and how strong it is. ``EVENT_KINDS`` is the table of kinds::

    rush_hour          traffic x intensity (default 1.8)
    stadium            traffic x intensity (default 2.5), +10 dB noise, parking demand x3
    pollution_episode  PM2.5, PM10 and NO2 backgrounds x intensity (default 3)
    power_cut          streetlights and meters at 0 W; mains-powered devices fall silent
    sensor_failure     mode "stuck" (value frozen), "dead" (silent) or "noisy" (noise x10)
    network_outage     every message of the devices concerned is lost

In a city file::

    [[events]]
    type = "pollution_episode"
    start = 3600          # simulated seconds after the start
    duration = 7200
    district = "centre"   # optional; or devices = ["aq-01"]; neither = the whole city
    intensity = 3.0       # optional

Injected (``citylab sim inject`` or ``Simulation.inject``): the same fields as
a JSON object, ``start`` defaulting to now, or ``delay`` seconds from now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

EVENT_KINDS: Mapping[str, float] = {
    # kind: default intensity
    "rush_hour": 1.8,
    "stadium": 2.5,
    "pollution_episode": 3.0,
    "power_cut": 1.0,
    "sensor_failure": 1.0,
    "network_outage": 1.0,
}
FAILURE_MODES = ("stuck", "dead", "noisy")
EVENT_FIELDS = ("type", "start", "delay", "duration", "district", "devices", "intensity", "mode")
MAX_DURATION_S = 366 * 86_400.0


@dataclass(frozen=True)
class ScenarioEvent:
    """One scheduled event. ``district`` "" and ``devices`` () mean the whole city."""

    type: str
    start: float
    duration: float
    district: str = ""
    devices: tuple[str, ...] = ()
    intensity: float = 1.0
    mode: str = "stuck"

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active(self, t: float) -> bool:
        """Whether the event is on at simulated second ``t``."""
        return self.start <= t < self.end

    def covers(self, device_id: str, district: str) -> bool:
        """Whether the event concerns a device."""
        if self.devices:
            return device_id in self.devices
        return not self.district or self.district == district


def parse_event(raw: Mapping[str, Any], now: float | None = None) -> ScenarioEvent:
    """An event from a table (a city file's ``[[events]]`` or an injected JSON object).

    Raises ValueError("field: reason") for a person; ``now`` is the default start.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"event: must be a table like {{type = 'rush_hour', start = 0, duration = 600}}, not {raw!r}")
    for key in raw:
        if key not in EVENT_FIELDS:
            raise ValueError(f"{key}: is not a field of an event: use {', '.join(EVENT_FIELDS)}")
    kind = raw.get("type")
    if kind not in EVENT_KINDS:
        raise ValueError(f"type: {kind!r} is not one of {', '.join(EVENT_KINDS)}")
    start = raw.get("start", now)
    if "delay" in raw:
        if now is None:
            raise ValueError("delay: is for injected events; a city file's event gives its start")
        start = now + _number("delay", raw["delay"], 0, MAX_DURATION_S)
    if start is None:
        raise ValueError("start: is missing (simulated seconds after the run's start)")
    start = _number("start", start, 0, math.inf)
    duration = _number("duration", raw.get("duration", 3600.0), 0, MAX_DURATION_S)
    if duration <= 0:
        raise ValueError("duration: must be more than 0 seconds")
    intensity = _number("intensity", raw.get("intensity", EVENT_KINDS[kind]), 0, 100)
    district = raw.get("district", "")
    if not isinstance(district, str):
        raise ValueError(f"district: must be a district name, not {district!r}")
    devices = raw.get("devices", ())
    if isinstance(devices, str):
        devices = (devices,)
    if not isinstance(devices, (list, tuple)) or not all(isinstance(d, str) for d in devices):
        raise ValueError(f"devices: must be a list of device ids, not {devices!r}")
    mode = raw.get("mode", "stuck")
    if mode not in FAILURE_MODES:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(FAILURE_MODES)}")
    return ScenarioEvent(kind, start, duration, district, tuple(devices), intensity, mode)


def _number(key: str, raw: Any, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ValueError(f"{key}: must be a number, not {raw!r}")
    if not low <= raw <= high:
        raise ValueError(f"{key}: is {raw}, outside {low:g} to {high:g}")
    return float(raw)

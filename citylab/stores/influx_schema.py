"""How citylab's messages become InfluxDB points (line protocol), for the v1 and v2 APIs alike.

The schema (docs/instructor-server.md shows it with queries):

- telemetry: measurement = the device type, found from the quantity names of
  the pack (``DEVICE_TYPES``; a pack with no known quantity goes to
  ``telemetry``). The message does not say its device type, and a quantity
  name is the one thing a trainee's own device shares with the simulator's.
- state: measurement ``state`` (a device's settings, such as dim and on, are
  not environment series and must not mix with the telemetry of the same name).
- tags ``site``, ``device``, ``unit`` (left out for a text or true/false value
  sent without a unit: InfluxDB refuses empty tag values);
- a field per SenML record name (float, string or boolean as sent);
- time: the reading's own time, to the microsecond, so a replayed reading is
  the same point and overwrites itself.

Statuses, commands and dead letters go to ``status``, ``command`` and
``dead_letter`` at their arrival time.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from citylab.stores.sqlite import Batch

# Quantity name -> device type. The first record of a pack whose name is
# here decides, so a streetlight (dim first, then power) and an energy meter
# (power first) part ways although both report power and energy.
DEVICE_TYPES: dict[str, str] = {
    "temperature": "weather", "humidity": "weather", "illuminance": "weather", "pressure": "weather",
    "pm2_5": "air_quality", "pm10": "air_quality", "no2": "air_quality", "o3": "air_quality",
    "noise": "noise",
    "dim": "streetlight", "motion": "streetlight",
    "power": "energy_meter", "energy": "energy_meter",
    "occupied": "parking", "free": "parking", "distance": "parking",
    "vehicles": "traffic", "queue_main": "traffic", "queue_side": "traffic",
    "vehicles_main": "traffic", "vehicles_side": "traffic",
    "fill": "waste_bin",
}
TELEMETRY_MEASUREMENTS = tuple(sorted(set(DEVICE_TYPES.values()))) + ("telemetry",)


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return repr(float(value))


def nanoseconds(seconds: float) -> int:
    """A time in seconds as InfluxDB's integer nanoseconds, through whole microseconds.

    Rounding to the microsecond makes the same float always the same point.
    """
    return int(round(seconds * 1_000_000)) * 1000


def measurement_of(channel: str, names: Iterator[str] | list[str]) -> str:
    """The measurement a pack's readings go to (see the module docstring)."""
    if channel != "telemetry":
        return channel
    for name in names:
        kind = DEVICE_TYPES.get(name)
        if kind:
            return kind
    return "telemetry"


def _line(measurement: str, tags: dict[str, str | None], fields: dict[str, Any], time_ns: int) -> str:
    tag_text = "".join(f",{k}={_escape_key(v)}" for k, v in sorted(tags.items()) if v)
    field_text = ",".join(f"{_escape_key(k)}={_field_value(v)}" for k, v in fields.items())
    return f"{_escape_key(measurement)}{tag_text} {field_text} {time_ns}"


def batch_lines(batch: Batch) -> list[str]:
    """The line-protocol lines of a batch: readings grouped into points, then the rest."""
    lines: list[str] = []
    # Readings of one message are consecutive in the batch; group them by
    # device and time so one pack is one or a few points.
    points: dict[tuple[str, str, str, str, int], dict[str, Any]] = {}
    index = 0
    readings = batch.readings
    while index < len(readings):
        channel, first, _ = readings[index]
        end = index + 1
        while end < len(readings) and readings[end][0] == channel and readings[end][1].device == first.device \
                and readings[end][1].site == first.site:
            end += 1
        group = readings[index:end]
        measurement = measurement_of(channel, [r.name for _, r, _ in group])
        for _, r, _ in group:
            key = (measurement, r.site, r.device, r.unit, nanoseconds(r.time))
            points.setdefault(key, {})[r.name] = r.value
        index = end
    for (measurement, site, device, unit, time_ns), fields in points.items():
        lines.append(_line(measurement, {"site": site, "device": device, "unit": unit}, fields, time_ns))
    for site, device, status, received in batch.statuses:
        lines.append(_line("status", {"site": site, "device": device}, {"status": status}, nanoseconds(received)))
    for site, device, command, received in batch.commands:
        lines.append(_line("command", {"site": site, "device": device},
                           {"command": json.dumps(command, sort_keys=True)}, nanoseconds(received)))
    for d in batch.dead_letters:
        lines.append(_line("dead_letter", {"site": d.site, "device": d.device, "kind": d.kind},
                           {"topic": d.topic, "reason": d.reason, "size": len(d.payload)}, nanoseconds(d.received)))
    return lines

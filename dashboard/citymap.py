"""The city as the map draws it: the one place the dashboard reads a city file.

The simulator's city format is still growing (device types, scenario events,
maybe districts with shapes), so every attribute is read defensively here and
nowhere else: a field the simulator renames breaks this module's tests, not
the whole dashboard.

Positions become metres east (x) and north (y) of the city's centre, which an
SVG can draw as they are (with y flipped); latitude and longitude stay beside
them for anyone who wants them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class MapDevice:
    """One marker on the map."""

    id: str
    type: str
    district: str
    x: float
    y: float
    latitude: float
    longitude: float


@dataclass(frozen=True)
class CityMap:
    """A city reduced to what a map shows."""

    name: str
    description: str
    latitude: float
    longitude: float
    devices: tuple[MapDevice, ...]
    events: tuple[dict[str, Any], ...]
    source: str
    epoch: float | None = None  # Unix time of the simulated clock's start, when the city file fixes it

    def to_dict(self) -> dict[str, Any]:
        xs = [d.x for d in self.devices] or [0.0]
        ys = [d.y for d in self.devices] or [0.0]
        return {
            "name": self.name,
            "description": self.description,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "bounds": {"min_x": min(xs), "max_x": max(xs), "min_y": min(ys), "max_y": max(ys)},
            "districts": districts(self.devices),
            "types": sorted({d.type for d in self.devices}),
            # Columns, not one object per device: a 10,000-device city stays a small download.
            "devices": {
                "id": [d.id for d in self.devices],
                "type": [d.type for d in self.devices],
                "district": [d.district for d in self.devices],
                "x": [round(d.x, 1) for d in self.devices],
                "y": [round(d.y, 1) for d in self.devices],
            },
            "events": list(self.events),
            "epoch": self.epoch,
        }


def try_load_map(city: Any) -> tuple[CityMap | None, str]:
    """``(map, "")``, or ``(None, why)`` when the city cannot be read.

    The dashboard keeps serving devices, labs and grades without a map: a
    broken city file, or a simulator that fails to import while it is being
    changed, must not take the whole page down.
    """
    if city is None:
        return None, "this dashboard was started without a city"
    try:
        return load_map(city), ""
    except Exception as exc:  # noqa: BLE001 - any failure becomes a sentence on the page
        return None, f"the city {str(getattr(city, 'name', city))!r} cannot be drawn: {exc}"


def load_map(city: Any) -> CityMap:
    """A CityMap from a city name, a path, or an already loaded ``simulator.city.City``.

    Raises ``citylab.errors.ConfigError`` (from the simulator) when the file is wrong.
    """
    if isinstance(city, (str, Path)):
        from simulator.city import load_city  # the simulator is optional for the API

        city = load_city(city)
    lat0 = float(getattr(city, "latitude", 0.0))
    lon0 = float(getattr(city, "longitude", 0.0))
    east = METRES_PER_DEGREE * max(math.cos(math.radians(lat0)), 1e-6)
    devices = []
    for spec in getattr(city, "devices", ()):
        x, y, lat, lon = _position(spec, lat0, lon0, east)
        devices.append(MapDevice(
            id=str(spec.id), type=str(getattr(spec, "type", "device")),
            district=str(getattr(spec, "district", "") or "city"), x=x, y=y, latitude=lat, longitude=lon,
        ))
    return CityMap(
        name=str(getattr(city, "name", "city")),
        description=str(getattr(city, "description", "") or ""),
        latitude=lat0, longitude=lon0, devices=tuple(devices),
        events=tuple(_events(city)), source=str(getattr(city, "source", "")), epoch=_epoch(city),
    )


def _epoch(city: Any) -> float | None:
    epoch = getattr(city, "epoch", None)
    try:
        return float(epoch.timestamp()) if epoch is not None else None
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


def _position(spec: Any, lat0: float, lon0: float, east: float) -> tuple[float, float, float, float]:
    # Today a DeviceSpec has latitude/longitude; accept x/y too in case the
    # simulator keeps metric positions as they were written.
    lat = getattr(spec, "latitude", None)
    lon = getattr(spec, "longitude", None)
    if lat is not None and lon is not None:
        return (float(lon) - lon0) * east, (float(lat) - lat0) * METRES_PER_DEGREE, float(lat), float(lon)
    x = float(getattr(spec, "x", 0.0) or 0.0)
    y = float(getattr(spec, "y", 0.0) or 0.0)
    return x, y, lat0 + y / METRES_PER_DEGREE, lon0 + x / east


def _events(city: Any) -> list[dict[str, Any]]:
    """Scenario events as plain dicts, whatever the simulator calls them."""
    raw = getattr(city, "events", None) or getattr(city, "scenario", None) or ()
    if isinstance(raw, dict):
        raw = raw.get("events", ())
    out = []
    for item in raw if isinstance(raw, (list, tuple)) else ():
        if isinstance(item, dict):
            data = dict(item)
        elif hasattr(item, "__dataclass_fields__"):
            data = {name: getattr(item, name) for name in item.__dataclass_fields__}
        else:
            data = {"description": str(item)}
        out.append({k: _plain(v) for k, v in data.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    return str(value)


def injected_events(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scenario events injected while the city runs: commands to the simulator's control device."""
    out = []
    for row in commands:
        command = row.get("command")
        if isinstance(command, dict) and isinstance(command.get("type"), str):
            out.append({**{k: _plain(v) for k, v in command.items()}, "injected": row.get("received")})
    return out


def districts(devices: tuple[MapDevice, ...]) -> list[dict[str, Any]]:
    """Each district as the convex hull of its devices, padded so single devices get an area."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for d in devices:
        groups.setdefault(d.district, []).append((d.x, d.y))
    out = []
    for name, points in groups.items():
        hull = _hull(points)
        cx = sum(p[0] for p in points) / len(points)
        cy = sum(p[1] for p in points) / len(points)
        out.append({"name": name, "devices": len(points), "centre": [round(cx, 1), round(cy, 1)],
                    "outline": [[round(x, 1), round(y, 1)] for x, y in hull]})
    return out


def _hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain; fewer than three distinct points give themselves."""
    pts = sorted(set(points))
    if len(pts) < 3:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]

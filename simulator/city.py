"""A city file: where the city is, when its clock starts, and its devices.

A city is a TOML file::

    name = "Thessaloniki"
    latitude = 40.64                 # degrees north
    longitude = 22.94                # degrees east
    description = "..."              # optional
    timezone = "Europe/Athens"       # optional, IANA name; default: local solar time
    epoch = 2024-06-21T06:00:00      # optional; absent = start at the wall clock's now

    [[devices]]
    id = "lamp-01"                   # [a-z0-9][a-z0-9-]{0,31}, unique in the city
    type = "streetlight"             # weather | air_quality | streetlight
    district = "centre"
    x = 120.0                        # metres east of the city centre ...
    y = -40.0                        # ... and north; or lat = ..., lon = ...
    interval = 60                    # simulated seconds between readings
    rated_power_w = 120              # parameters of the type (see its PARAMS)

``load_city`` turns a file into a frozen ``City`` or raises ``ConfigError``
naming the file, the field and what is wrong with it.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from citylab.contract import ID_PATTERN
from citylab.errors import ConfigError
from simulator.devices import DEVICE_TYPES
from simulator.network import DUTY_POLICIES, PROFILES
from simulator.scenario import ScenarioEvent, parse_event
from simulator.sensors import SENSOR_PARAMS
from simulator.toml_table import Table as _Table

CITIES_DIR = Path(__file__).parent / "cities"
METRES_PER_DEGREE = 111_320.0
MAX_OFFSET_M = 100_000.0
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86_400.0
CITY_FIELDS = ("name", "description", "latitude", "longitude", "timezone", "epoch", "radius_km", "layout_seed",
               "devices", "generate", "events")
DEVICE_FIELDS = ("id", "type", "district", "x", "y", "lat", "lon", "interval", "network", "duty_cycle", "sensor")
GENERATE_FIELDS = ("type", "count", "prefix", "district", "x", "y", "interval", "network", "duty_cycle", "sensor")
MAX_GENERATED = 100_000
DEFAULT_RADIUS_KM = 20.0
DEFAULT_SENSOR: Mapping[str, float | bool] = MappingProxyType({p.name: p.default for p in SENSOR_PARAMS})
# The pseudo-device whose cmd topic carries scenario injections.
CONTROL_DEVICE = "sim"
ID_RULE = "use 1 to 32 lower-case letters, digits or '-', starting with a letter or digit"


@dataclass(frozen=True)
class DeviceSpec:
    """One device as the city file describes it, every parameter resolved."""

    id: str
    type: str
    district: str
    latitude: float
    longitude: float
    interval: float
    params: Mapping[str, float | bool]
    network: str = "ideal"
    duty_cycle: str = "drop"
    sensor: Mapping[str, float | bool] = field(default_factory=lambda: DEFAULT_SENSOR)


@dataclass(frozen=True)
class City:
    """A city: its place on Earth, its clock's start and its devices."""

    name: str
    latitude: float
    longitude: float
    devices: tuple[DeviceSpec, ...]
    epoch: datetime | None = None
    timezone: str | None = None
    source: str = ""
    description: str = ""
    events: tuple[ScenarioEvent, ...] = ()
    radius_km: float = DEFAULT_RADIUS_KM

    @property
    def districts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.district for d in self.devices))

    def device(self, device_id: str) -> DeviceSpec:
        """The device with this id; KeyError if the city has none."""
        for spec in self.devices:
            if spec.id == device_id:
                return spec
        raise KeyError(device_id)

    def zone(self) -> tzinfo:
        """The city's time zone, or its mean solar time when the file names none."""
        if self.timezone:
            return ZoneInfo(self.timezone)
        return timezone(timedelta(hours=self.longitude / 15))

    def local_time(self, unix_time: float) -> datetime:
        """The city's wall-clock time at a Unix time (what people's schedules follow)."""
        return datetime.fromtimestamp(unix_time, tz=self.zone())


def available_cities() -> list[str]:
    """The names of the cities that ship with the simulator."""
    return sorted(path.stem for path in CITIES_DIR.glob("*.toml"))


def load_city(name_or_path: str | Path) -> City:
    """Load a city by bundled name (``"default"``) or by the path of a TOML file."""
    path, label = _locate(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{label}: there is no such city file") from exc
    except OSError as exc:
        raise ConfigError(f"{label}: the city file cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: the city file is not UTF-8 text (bad byte at {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from exc
    return parse_city(data, label)


def parse_city(data: Mapping[str, Any], source: str = "city") -> City:
    """Check a parsed city table; ``source`` names it in error messages."""
    top = _Table(data, "", source)
    top.reject_unknown(CITY_FIELDS)
    name = top.text("name")
    latitude = top.number("latitude", -90, 90)
    longitude = top.number("longitude", -180, 180)
    radius_km = top.number("radius_km", 0.1, MAX_OFFSET_M / 1000) if top.has("radius_km") else DEFAULT_RADIUS_KM
    zone_name = top.optional("timezone")
    if zone_name is not None:
        zone_name = _zone_name(top, zone_name)
    city = City(name, latitude, longitude, (), None, zone_name, source, radius_km=radius_km)
    epoch = top.optional("epoch")
    raw_devices = top.optional("devices") or []
    raw_generate = top.optional("generate") or []
    for key, raw in (("devices", raw_devices), ("generate", raw_generate)):
        if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
            raise top.error(key, f"must be [[{key}]] tables")
    if not raw_devices and not raw_generate:
        raise top.error("devices", "is missing: add at least one [[devices]] or [[generate]] table")
    devices: list[DeviceSpec] = []
    seen: dict[str, str] = {}

    def add(spec: DeviceSpec, where: str) -> None:
        if spec.id in seen:
            raise ConfigError(f"{source}: {where}.id {spec.id!r} is already used by {seen[spec.id]}: "
                              f"every device needs its own id")
        if spec.id == CONTROL_DEVICE:
            raise ConfigError(f"{source}: {where}.id {spec.id!r} is reserved for the simulator's control topic")
        seen[spec.id] = where
        devices.append(spec)

    for index, raw in enumerate(raw_devices):
        add(_device(_Table(raw, f"devices[{index}].", source), city), f"devices[{index}]")
    layout_seed = int(top.number("layout_seed", 0, 2**32)) if top.has("layout_seed") else 0
    for index, raw in enumerate(raw_generate):
        for spec in _generate(_Table(raw, f"generate[{index}].", source), city, layout_seed, index):
            add(spec, f"generate[{index}]")
    districts = {d.district for d in devices}
    ids = set(seen)
    events = tuple(_event(_Table(raw, f"events[{i}].", source), districts, ids)
                   for i, raw in enumerate(_tables(top, "events")))
    return City(
        name, latitude, longitude, tuple(devices),
        None if epoch is None else _epoch(top, epoch, city.zone()), zone_name, source,
        str(top.optional("description") or ""), events, radius_km,
    )


def _tables(top: _Table, key: str) -> list[dict[str, Any]]:
    raw = top.optional(key) or []
    if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
        raise top.error(key, f"must be [[{key}]] tables")
    return raw


def _event(table: _Table, districts: set[str], ids: set[str]) -> ScenarioEvent:
    try:
        event = parse_event(table.data)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise table.error(field, reason) from None
    if event.district and event.district not in districts:
        raise table.error("district", f"{event.district!r} is not a district of the city: "
                                      f"use one of {', '.join(sorted(districts))}")
    unknown = [d for d in event.devices if d not in ids]
    if unknown:
        raise table.error("devices", f"{unknown[0]!r} is not a device of the city")
    return event


def _generate(table: _Table, city: City, layout_seed: int, index: int) -> list[DeviceSpec]:
    """The devices of one [[generate]] table, each checked like a written one."""
    kind = table.text("type")
    if kind not in DEVICE_TYPES:
        raise table.error("type", f"{kind!r} is not one of {', '.join(DEVICE_TYPES)}")
    model = DEVICE_TYPES[kind]
    table.reject_unknown(GENERATE_FIELDS + tuple(p.name for p in model.PARAMS), f"a [[generate]] of {kind}")
    count = int(table.number("count", 1, MAX_GENERATED))
    prefix = table.text("prefix") if table.has("prefix") else f"{kind.replace('_', '-')[:8]}-{index}-"
    width = max(4, len(str(count - 1)))
    rng = np.random.default_rng(np.random.SeedSequence([layout_seed, index]))
    columns: dict[str, Any] = {}
    for key, value in table.data.items():
        if key in ("type", "count", "prefix"):
            continue
        if isinstance(value, list) and key != "sensor":
            if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise table.error(key, f"must be a value or a [low, high] range of numbers, not {value!r}")
            low, high = value
            if low > high:
                raise table.error(key, f"range [{low}, {high}] has its low end above its high end")
            columns[key] = rng.uniform(low, high, count).tolist()
        else:
            columns[key] = value
    if "x" not in columns and "lat" not in columns:
        raise table.error("x", "is missing: give x = [low, high] and y = [low, high] in metres")
    out = []
    for n in range(count):
        raw = {key: (value[n] if isinstance(value, list) and key != "sensor" else value)
               for key, value in columns.items()}
        raw["id"], raw["type"] = f"{prefix}{n:0{width}d}", kind
        out.append(_device(_Table(raw, table.where, table.source), city))
    return out


def _device(table: _Table, city: City) -> DeviceSpec:
    device_id = table.text("id")
    if not ID_PATTERN.fullmatch(device_id):
        raise table.error("id", f"{device_id!r} is not a valid device id: {ID_RULE} (like 'lamp-01')")
    kind = table.text("type")
    if kind not in DEVICE_TYPES:
        raise table.error("type", f"{kind!r} is not one of {', '.join(DEVICE_TYPES)}")
    model = DEVICE_TYPES[kind]
    table.reject_unknown(DEVICE_FIELDS + tuple(p.name for p in model.PARAMS), f"a {kind} device")
    district = table.text("district")
    if not ID_PATTERN.fullmatch(district):
        raise table.error("district", f"{district!r} is not a valid district name: {ID_RULE}")
    latitude, longitude = _position(table, city)
    interval = table.number("interval", MIN_INTERVAL_S, MAX_INTERVAL_S, hint="seconds between readings")
    params: dict[str, float | bool] = {}
    for param in model.PARAMS:
        raw = table.optional(param.name)
        try:
            params[param.name] = param.default if raw is None else param.check(raw)
        except ValueError as exc:
            raise table.error(param.name, f"{exc} ({param.doc})") from None
    network = table.optional("network") or "ideal"
    if network not in PROFILES:
        raise table.error("network", f"{network!r} is not one of {', '.join(PROFILES)}")
    duty_cycle = table.optional("duty_cycle") or "drop"
    if duty_cycle not in DUTY_POLICIES:
        raise table.error("duty_cycle", f"{duty_cycle!r} is not one of {', '.join(DUTY_POLICIES)}")
    return DeviceSpec(device_id, kind, district, latitude, longitude, interval, MappingProxyType(params),
                      network, duty_cycle, _sensor(table))


def _sensor(table: _Table) -> Mapping[str, float | bool]:
    raw = table.optional("sensor")
    if raw is None:
        return DEFAULT_SENSOR
    if not isinstance(raw, dict):
        raise table.error("sensor", f"must be a table like {{ noise = 2, dropout = 0.01 }}, not {raw!r}")
    known = {p.name: p for p in SENSOR_PARAMS}
    sub = _Table(raw, f"{table.where}sensor.", table.source)
    sub.reject_unknown(tuple(known), "a sensor")
    values: dict[str, float | bool] = {}
    for name, param in known.items():
        try:
            values[name] = param.default if name not in raw else param.check(raw[name])
        except ValueError as exc:
            raise sub.error(name, f"{exc} ({param.doc})") from None
    return MappingProxyType(values)


def _position(table: _Table, city: City) -> tuple[float, float]:
    metric = table.has("x") or table.has("y")
    geographic = table.has("lat") or table.has("lon")
    if metric and geographic:
        raise table.error("x", "and lat/lon are both given: place the device one way only")
    east = METRES_PER_DEGREE * max(math.cos(math.radians(city.latitude)), 1e-6)
    if geographic:
        lat, lon = table.number("lat", -90, 90), table.number("lon", -180, 180)
        x, y = (lon - city.longitude) * east, (lat - city.latitude) * METRES_PER_DEGREE
        _inside(table, city, x, y, "lat")
        return lat, lon
    if not metric:
        raise table.error("x", "is missing: place the device with x and y (metres east and "
                               "north of the city centre) or with lat and lon")
    x = table.number("x", -MAX_OFFSET_M, MAX_OFFSET_M, hint="metres east of the city centre")
    y = table.number("y", -MAX_OFFSET_M, MAX_OFFSET_M, hint="metres north of the city centre")
    _inside(table, city, x, y, "x")
    # An equirectangular step is exact enough over a city's few kilometres.
    return city.latitude + y / METRES_PER_DEGREE, city.longitude + x / east


def _inside(table: _Table, city: City, x: float, y: float, key: str) -> None:
    distance_km = math.hypot(x, y) / 1000
    if distance_km > city.radius_km:
        raise table.error(key, f"puts the device {distance_km:.1f} km from the centre, outside the map "
                               f"(radius_km = {city.radius_km:g}): check the position or widen radius_km")


def _zone_name(table: _Table, raw: Any) -> str:
    if not isinstance(raw, str):
        raise table.error("timezone", f"must be text like 'Europe/Athens', not {raw!r}")
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise table.error("timezone", f"{raw!r} is not a known time zone (like 'Europe/Athens')") from exc
    return raw


def _epoch(table: _Table, raw: Any, zone: tzinfo) -> datetime:
    if isinstance(raw, str):
        try:
            raw = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise table.error("epoch", f"{raw!r} is not an ISO date-time like 2024-06-21T06:00:00") from exc
    elif isinstance(raw, date) and not isinstance(raw, datetime):
        raw = datetime.combine(raw, time())
    if not isinstance(raw, datetime):
        raise table.error("epoch", f"must be a date-time like 2024-06-21T06:00:00, not {raw!r}")
    # A date-time without an offset is the city's own wall clock.
    return raw if raw.tzinfo is not None else raw.replace(tzinfo=zone)


def _locate(name_or_path: str | Path) -> tuple[Path, str]:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        return Path(name_or_path), text
    path = CITIES_DIR / f"{text}.toml"
    if not path.is_file():
        raise ConfigError(
            f"there is no city named {text!r}: choose one of {', '.join(available_cities())} "
            f"or give the path of a .toml file"
        )
    return path, path.name

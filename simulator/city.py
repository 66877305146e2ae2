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

import difflib
import math
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from citylab.contract import ID_PATTERN
from citylab.errors import ConfigError
from simulator.devices import DEVICE_TYPES

CITIES_DIR = Path(__file__).parent / "cities"
METRES_PER_DEGREE = 111_320.0
MAX_OFFSET_M = 100_000.0
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86_400.0
CITY_FIELDS = ("name", "description", "latitude", "longitude", "timezone", "epoch", "devices")
DEVICE_FIELDS = ("id", "type", "district", "x", "y", "lat", "lon", "interval")
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
    zone_name = top.optional("timezone")
    if zone_name is not None:
        zone_name = _zone_name(top, zone_name)
    city = City(name, latitude, longitude, (), None, zone_name, source)
    epoch = top.optional("epoch")
    raw_devices = top.required("devices", "add at least one [[devices]] table")
    if not isinstance(raw_devices, list) or not all(isinstance(d, dict) for d in raw_devices):
        raise top.error("devices", "must be [[devices]] tables")
    if not raw_devices:
        raise top.error("devices", "is empty: add at least one [[devices]] table")
    devices: list[DeviceSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_devices):
        spec = _device(_Table(raw, f"devices[{index}].", source), city)
        if spec.id in seen:
            raise ConfigError(
                f"{source}: devices[{index}].id {spec.id!r} is already used by devices[{seen[spec.id]}]: "
                f"every device needs its own id"
            )
        seen[spec.id] = index
        devices.append(spec)
    return City(
        name, latitude, longitude, tuple(devices),
        None if epoch is None else _epoch(top, epoch, city.zone()), zone_name, source,
        str(top.optional("description") or ""),
    )


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
    return DeviceSpec(device_id, kind, district, latitude, longitude, interval, MappingProxyType(params))


def _position(table: _Table, city: City) -> tuple[float, float]:
    metric = table.has("x") or table.has("y")
    geographic = table.has("lat") or table.has("lon")
    if metric and geographic:
        raise table.error("x", "and lat/lon are both given: place the device one way only")
    if geographic:
        return table.number("lat", -90, 90), table.number("lon", -180, 180)
    if not metric:
        raise table.error("x", "is missing: place the device with x and y (metres east and "
                               "north of the city centre) or with lat and lon")
    x = table.number("x", -MAX_OFFSET_M, MAX_OFFSET_M, hint="metres east of the city centre")
    y = table.number("y", -MAX_OFFSET_M, MAX_OFFSET_M, hint="metres north of the city centre")
    # An equirectangular step is exact enough over a city's few kilometres.
    east = METRES_PER_DEGREE * max(math.cos(math.radians(city.latitude)), 1e-6)
    return city.latitude + y / METRES_PER_DEGREE, city.longitude + x / east


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


class _Table:
    """A TOML table being read, that words its errors as ``file: path.field reason``."""

    def __init__(self, data: Mapping[str, Any], where: str, source: str) -> None:
        self.data, self.where, self.source = data, where, source

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.where}{key} {reason}")

    def has(self, key: str) -> bool:
        return key in self.data

    def optional(self, key: str) -> Any:
        return self.data.get(key)

    def required(self, key: str, hint: str = "") -> Any:
        if key not in self.data:
            raise self.error(key, "is missing" + (f" ({hint})" if hint else ""))
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.required(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be non-empty text, not {value!r}")
        return value

    def number(self, key: str, low: float, high: float, hint: str = "") -> float:
        value = self.required(key, hint)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise self.error(key, f"is {value}, outside {low:g} to {high:g}")
        return float(value)

    def reject_unknown(self, known: tuple[str, ...], what: str = "a city file") -> None:
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                advice = f"did you mean {close[0]!r}?" if close else f"use {', '.join(known)}"
                raise self.error(key, f"is not a field of {what}: {advice}")


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

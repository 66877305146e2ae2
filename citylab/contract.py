"""The message contract: topics and SenML payloads, in one place.

Every part of citylab (simulator, bridge, firmware helpers, recorder, graders,
dashboard) builds and reads messages through this module, so the rules below
live nowhere else:

- topic ``citylab/{site}/{device}/{channel}``; site and device match
  ``[a-z0-9][a-z0-9-]{0,31}``; channel is telemetry, cmd, state or status;
- telemetry and state carry a SenML JSON pack (RFC 8428) whose base name is
  ``urn:citylab:{site}:{device}:`` and whose units come from the SenML units
  registry; numbers are finite; a pack is at most ``MAX_PACK_BYTES``;
- status carries ``online`` or ``offline``;
- cmd carries a JSON object such as ``{"set": {"dim": 40}}``.

``validate_message`` never raises anything but ``ContractError``, whatever the
bytes: its ``reason`` is a sentence a trainee can act on.
"""

from __future__ import annotations

import json
import math
import re
import time as _time
from dataclasses import dataclass, field
from typing import Any, Iterable, Union

from citylab.errors import ContractError
from citylab.units import SENML_UNITS, suggest_unit, QUANTITY_UNITS

ROOT = "citylab"
CHANNELS = ("telemetry", "cmd", "state", "status")
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
# SenML names may use letters, digits and "-:./_" and must start with a
# letter or digit (RFC 8428, section 4.5.1); ours are lower-case.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_PACK_BYTES = 16 * 1024
MAX_RECORDS = 512
MAX_STRING_VALUE = 256
# SenML: a time below 2**28 is relative to "now" (RFC 8428, section 4.5.3).
RELATIVE_TIME_LIMIT = 2**28
STATUS_VALUES = ("online", "offline")

Value = Union[float, str, bool]


def _check_id(what: str, value: str) -> None:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ContractError(
            f"{what} {value!r} is not a valid id: use 1 to 32 lower-case letters, "
            f"digits or '-', starting with a letter or digit (like 'alice' or 'aq-01')",
            kind="topic",
        )


@dataclass(frozen=True)
class Topic:
    """A contract topic, ``citylab/{site}/{device}/{channel}``; checks itself."""

    site: str
    device: str
    channel: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)
        _check_id("device id", self.device)
        if self.channel not in CHANNELS:
            raise ContractError(
                f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}", kind="topic"
            )

    def __str__(self) -> str:
        return f"{ROOT}/{self.site}/{self.device}/{self.channel}"

    @property
    def base_name(self) -> str:
        return base_name(self.site, self.device)

    @classmethod
    def parse(cls, topic: str) -> "Topic":
        """Read a topic string, or raise ContractError saying what is wrong."""
        if not isinstance(topic, str):
            raise ContractError("the topic is not text", kind="topic")
        parts = topic.split("/")
        if len(parts) != 4 or parts[0] != ROOT:
            raise ContractError(
                f"topic {topic!r} does not follow {ROOT}/{{site}}/{{device}}/{{channel}}",
                kind="topic",
            )
        return cls(parts[1], parts[2], parts[3])


def topic(site: str, device: str, channel: str) -> str:
    """The topic string for a site, device and channel (validated)."""
    return str(Topic(site, device, channel))


def subscription(site: str | None = None, channel: str | None = None) -> str:
    """An MQTT filter for a site's (or every site's) messages on one or all channels."""
    if channel:
        return f"{ROOT}/{site or '+'}/+/{channel}"
    return f"{ROOT}/{site}/#" if site else f"{ROOT}/#"


def base_name(site: str, device: str) -> str:
    return f"urn:citylab:{site}:{device}:"


@dataclass(frozen=True)
class Reading:
    """One resolved SenML record: a named value with its unit at an absolute time.

    ``unit`` is "" for a text or true/false value sent without one.
    """

    site: str
    device: str
    name: str
    unit: str
    value: Value
    time: float


@dataclass(frozen=True)
class Message:
    """A message that passed the contract.

    ``readings`` for telemetry and state, ``status`` for status, ``command``
    for cmd; the other fields stay empty.
    """

    topic: Topic
    received: float
    readings: tuple[Reading, ...] = ()
    status: str | None = None
    command: dict[str, Any] = field(default_factory=dict)


# --- building -----------------------------------------------------------------


def build_pack(
    site: str,
    device: str,
    values: Iterable[tuple[str, str, Value]] | dict[str, tuple[Value, str]],
    base_time: float | None = None,
) -> bytes:
    """A SenML JSON pack for one device at one time.

    ``values`` is ``[(name, unit, value), ...]`` or ``{name: (value, unit)}``;
    the unit may be "" for a text or true/false value.
    The pack is checked against the contract before it is returned, so a
    source can never publish what the recorder would refuse.
    """
    if isinstance(values, dict):
        rows = [(name, unit, value) for name, (value, unit) in values.items()]
    else:
        rows = list(values)
    bt = _time.time() if base_time is None else float(base_time)
    records: list[dict[str, Any]] = []
    for i, (name, unit, value) in enumerate(rows):
        record: dict[str, Any] = {"n": name, "u": unit} if unit else {"n": name}
        if isinstance(value, bool):
            record["vb"] = value
        elif isinstance(value, str):
            record["vs"] = value
        else:
            record["v"] = float(value)
        if i == 0:
            record = {"bn": base_name(site, device), "bt": bt, **record}
        records.append(record)
    payload = json.dumps(records, separators=(",", ":"), allow_nan=True).encode()
    parse_pack(Topic(site, device, "telemetry"), payload, received=bt)
    return payload


def build_command(settings: dict[str, Any]) -> bytes:
    """A cmd payload, ``{"set": {...}}``, e.g. ``build_command({"dim": 40})``."""
    payload = json.dumps({"set": settings}).encode()
    parse_command(payload)
    return payload


# --- reading ------------------------------------------------------------------


def validate_message(topic_text: str, payload: bytes, received: float | None = None) -> Message:
    """Check a message against the contract and return what it says.

    Raises ContractError, and only ContractError, with a reason for a person.
    """
    received = _time.time() if received is None else received
    try:
        parsed = Topic.parse(topic_text)
        if parsed.channel in ("telemetry", "state"):
            return Message(parsed, received, readings=parse_pack(parsed, payload, received))
        if parsed.channel == "status":
            return Message(parsed, received, status=parse_status(payload))
        return Message(parsed, received, command=parse_command(payload))
    except ContractError:
        raise
    except Exception as exc:  # a bug of ours must still not crash a recorder
        raise ContractError(f"the message could not be read ({type(exc).__name__}: {exc})") from exc


def parse_status(payload: bytes) -> str:
    text = _text(payload, "status")
    value = text.strip()
    if value not in STATUS_VALUES:
        raise ContractError(
            f"status must be 'online' or 'offline', not {_quote(value)}", kind="status"
        )
    return value


def parse_command(payload: bytes) -> dict[str, Any]:
    data = _json(_text(payload, "command"), "command")
    if not isinstance(data, dict) or not data:
        raise ContractError(
            'a command must be a JSON object such as {"set": {"dim": 40}}', kind="command"
        )
    return data


def parse_pack(parsed: Topic, payload: bytes, received: float) -> tuple[Reading, ...]:
    """Resolve a SenML pack into readings, checking every rule of the contract."""
    if len(payload) > MAX_PACK_BYTES:
        raise ContractError(
            f"the pack is {len(payload)} bytes, more than the limit of {MAX_PACK_BYTES}: "
            f"send fewer records per message",
            kind="size",
        )
    data = _json(_text(payload, "SenML pack"), "SenML pack")
    if isinstance(data, dict):
        raise ContractError(
            "a SenML pack is a JSON array of records: wrap the object in [ ]", kind="senml"
        )
    if not isinstance(data, list) or not data:
        raise ContractError("a SenML pack must be a non-empty JSON array of records", kind="senml")
    if len(data) > MAX_RECORDS:
        raise ContractError(
            f"the pack has {len(data)} records, more than the limit of {MAX_RECORDS}", kind="size"
        )
    expected_bn = parsed.base_name
    bn, bt, bu = "", 0.0, None
    readings = []
    for index, record in enumerate(data, start=1):
        where = f"record {index}"
        if not isinstance(record, dict):
            raise ContractError(f"{where} is not a JSON object", kind="senml")
        if "bn" in record:
            bn = record["bn"]
            if not isinstance(bn, str):
                raise ContractError(f"{where}: 'bn' (base name) must be text", kind="name")
        if "bt" in record:
            bt = _number(record["bt"], f"{where}: 'bt' (base time)")
        if "bu" in record:
            bu = _unit(record["bu"], f"{where}: 'bu' (base unit)")
        name = record.get("n", "")
        if not isinstance(name, str):
            raise ContractError(f"{where}: 'n' (name) must be text", kind="name")
        full = bn + name
        if not full.startswith(expected_bn):
            raise ContractError(
                f"{where}: name {full!r} does not start with {expected_bn!r}; "
                f"set 'bn' to {expected_bn!r} so the name matches the topic's site and device",
                kind="name",
            )
        short = full[len(expected_bn):]
        if not NAME_PATTERN.fullmatch(short):
            raise ContractError(
                f"{where}: measurement name {short!r} must be 1 to 64 lower-case letters, "
                f"digits or '_.-' (like 'temperature' or 'pm2_5')",
                kind="name",
            )
        unit = _unit(record["u"], f"{where}: 'u' (unit)") if "u" in record else bu
        value = _value(record, where, short)
        # A number means nothing without its unit; text and true/false need none.
        if unit is None and isinstance(value, float):
            raise ContractError(f"{where}: {short!r} has no unit: add 'u' (for example 'Cel')", kind="unit")
        unit = unit or ""
        if unit or isinstance(value, float):
            _check_quantity(short, unit, where)
        t = bt + (_number(record["t"], f"{where}: 't' (time)") if "t" in record else 0.0)
        if abs(t) < RELATIVE_TIME_LIMIT:
            t = received + t
        readings.append(Reading(parsed.site, parsed.device, short, unit, value, t))
    return tuple(readings)


def _check_quantity(name: str, unit: str, where: str) -> None:
    expected = QUANTITY_UNITS.get(name)
    if expected and unit not in expected:
        described = SENML_UNITS[unit]
        raise ContractError(
            f"{where}: {name!r} is in {unit!r}, which SenML reads as {described}: "
            f"use {' or '.join(repr(u) for u in expected)}",
            kind="unit",
        )


def _value(record: dict[str, Any], where: str, name: str) -> Value:
    present = [key for key in ("v", "vs", "vb", "vd") if key in record]
    if "s" in record and not present:
        raise ContractError(f"{where}: sums ('s') are not used by citylab: send 'v'", kind="value")
    if len(present) != 1:
        raise ContractError(
            f"{where}: {name!r} needs exactly one value ('v' for a number, 'vs' for text, "
            f"'vb' for true/false), found {len(present)}",
            kind="value",
        )
    key = present[0]
    raw = record[key]
    if key == "v":
        return _number(raw, f"{where}: the value of {name!r}")
    if key == "vb":
        if not isinstance(raw, bool):
            raise ContractError(f"{where}: 'vb' of {name!r} must be true or false", kind="value")
        return raw
    if key == "vd":
        raise ContractError(f"{where}: data values ('vd') are not used by citylab", kind="value")
    if not isinstance(raw, str) or len(raw) > MAX_STRING_VALUE:
        raise ContractError(
            f"{where}: 'vs' of {name!r} must be text of at most {MAX_STRING_VALUE} characters",
            kind="value",
        )
    return raw


def _unit(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ContractError(f"{where} must be text such as 'Cel'", kind="unit")
    if raw not in SENML_UNITS:
        hint = suggest_unit(raw)
        advice = f": use {hint!r}" if hint else " (see the SenML units registry)"
        raise ContractError(f"unit {_quote(raw)} is not a SenML unit{advice}", kind="unit")
    return raw


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ContractError(f"{where} must be a number, not {_quote(raw)}", kind="value")
    value = float(raw)
    if not math.isfinite(value):
        raise ContractError(f"{where} is {raw}, but numbers must be finite", kind="value")
    return value


def _text(payload: bytes, what: str) -> str:
    if not isinstance(payload, (bytes, bytearray)):
        raise ContractError(f"the {what} is not bytes", kind="json")
    try:
        return bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(
            f"the {what} is not UTF-8 text (bad byte at position {exc.start})", kind="json"
        ) from exc


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ContractError:
        raise
    except RecursionError as exc:
        raise ContractError(f"the {what} is nested too deeply", kind="json") from exc
    except ValueError as exc:
        raise ContractError(
            f"the {what} is not valid JSON: {getattr(exc, 'msg', exc)} "
            f"at line {getattr(exc, 'lineno', '?')} column {getattr(exc, 'colno', '?')}",
            kind="json",
        ) from exc


def _reject_constant(name: str) -> Any:
    raise ContractError(f"{name} is not a number JSON allows: numbers must be finite", kind="value")


def _quote(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."

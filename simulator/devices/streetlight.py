"""A smart streetlight: a dimmable lamp with a power meter, obeying ``cmd``.

Commands: ``{"set": {"dim": 0..100}}`` and ``{"set": {"on": true|false}}``
(both keys may come together). Power is the rated power scaled by the dim
level while the lamp is on, plus the controller's standby draw, which it pays
on or off. Energy is power integrated over simulated time, up to the instant
of every change, so a command mid-interval is accounted exactly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from citylab.errors import ContractError
from simulator.devices.base import Actuator, Param, Row

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

USAGE = 'a streetlight obeys {"set": {"dim": 0..100}} and {"set": {"on": true|false}}'
SETTINGS = ("dim", "on")


class Streetlight(Actuator):
    """A dimmable streetlight reporting dim (%), power (W) and energy (Wh)."""

    kind = "streetlight"
    PARAMS = (
        Param("rated_power_w", 100.0, 1, 2000, "lamp power at full brightness, W"),
        Param("standby_power_w", 0.5, 0, 50, "controller draw, on or off, W"),
        Param("dim", 100.0, 0, 100, "dim level at start, %"),
        Param("on", True, doc="whether the lamp is on at start"),
    )

    def __init__(self, spec: "DeviceSpec", city: "City") -> None:
        super().__init__(spec, city)
        self._dim = float(self.params["dim"])
        self._on = bool(self.params["on"])
        self._energy_wh = 0.0
        self._since: float | None = None

    @property
    def power_w(self) -> float:
        lamp = self.params["rated_power_w"] * self._dim / 100 if self._on else 0.0
        return lamp + self.params["standby_power_w"]

    def read(self, now: float, rng: np.random.Generator) -> list[Row]:
        self._integrate(now)
        return [
            ("dim", "%", self._dim),
            ("power", "W", round(self.power_w, 3)),
            ("energy", "Wh", round(self._energy_wh, 4)),
        ]

    def state(self) -> list[Row]:
        # A true/false value carries no unit in SenML.
        return [("dim", "%", self._dim), ("on", "", self._on)]

    def apply(self, command: dict[str, Any], now: float) -> bool:
        settings = _settings(command)
        dim, on = self._dim, self._on
        if "dim" in settings:
            dim = _dim_value(settings["dim"])
        if "on" in settings:
            if not isinstance(settings["on"], bool):
                raise ContractError(f"'on' must be true or false, not {settings['on']!r}", kind="command")
            on = settings["on"]
        if (dim, on) == (self._dim, self._on):
            return False
        # Close the energy account at the old power before switching.
        self._integrate(now)
        self._dim, self._on = dim, on
        return True

    def _integrate(self, now: float) -> None:
        if self._since is not None and now > self._since:
            self._energy_wh += self.power_w * (now - self._since) / 3600
        self._since = now if self._since is None else max(self._since, now)


def _settings(command: Any) -> dict[str, Any]:
    settings = command.get("set") if isinstance(command, dict) else None
    if not isinstance(settings, dict) or not settings or set(command) != {"set"}:
        raise ContractError(f"{USAGE}, got {command!r}", kind="command")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ContractError(
            f"a streetlight has no setting {', '.join(map(repr, unknown))}: it knows 'dim' and 'on'",
            kind="command",
        )
    return settings


def _dim_value(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ContractError(f"'dim' must be a number from 0 to 100, not {raw!r}", kind="command")
    if not 0 <= raw <= 100:
        raise ContractError(f"'dim' is {raw}, outside 0 to 100", kind="command")
    return float(raw)

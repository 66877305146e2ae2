"""Smart streetlights: dimmable lamps with a power meter and a motion sensor, obeying ``cmd``.

Commands: ``{"set": {"dim": 0..100}}`` and ``{"set": {"on": true|false}}``
(both keys may come together). Power is the rated power scaled by the dim
level while the lamp is on, plus the controller's standby draw, which it pays
on or off; a power cut takes both to 0. Energy is power integrated over
simulated time up to the instant of every change, so a command mid-interval
is accounted exactly. Motion is a PIR sensor: true when at least one passer-by
(Poisson, following the street's traffic) crossed it since the last reading.
Ground truth: energy used per lamp (Wh).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from citylab.errors import ContractError
from simulator.devices.base import ActuatorModel, Param, Quantity, Value, command_settings, number_setting
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

USAGE = 'a streetlight obeys {"set": {"dim": 0..100}} and {"set": {"on": true|false}}'
SETTINGS = ("dim", "on")


class Streetlight(ActuatorModel):
    """Streetlights reporting dim (%), power (W), energy (Wh) and motion (true/false)."""

    kind = "streetlight"
    # Lamp controllers keep a backup cell to report outages, so a power cut shows as 0 W, not silence.
    mains_powered = False
    PARAMS = (
        Param("rated_power_w", 100.0, 1, 2000, "lamp power at full brightness, W"),
        Param("standby_power_w", 0.5, 0, 50, "controller draw, on or off, W"),
        Param("dim", 100.0, 0, 100, "dim level at start, %"),
        Param("on", True, doc="whether the lamp is on at start"),
        Param("passers_per_hour", 30.0, 0, 10_000, "people passing the lamp per hour at normal traffic"),
    )
    QUANTITIES = (
        Quantity("dim", "%", 0, 100, 1),
        Quantity("power", "W", 0, 2100, 0.1),
        Quantity("energy", "Wh", 0, 1e12, 0.001),
        Quantity("motion", "", 0, 1, 1, boolean=True),
    )
    STATE = (Quantity("dim", "%", 0, 100, 1), Quantity("on", "", 0, 1, 1, boolean=True))

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self.dim = self.p["dim"].copy()
        self.on = self.p["on"].copy()
        self.mains = np.ones(self.n, dtype=bool)
        self.energy_wh = np.zeros(self.n)
        self._since: float | None = None

    def power_w(self) -> np.ndarray:
        lamp = np.where(self.on, self.p["rated_power_w"] * self.dim / 100, 0.0)
        return np.where(self.mains, lamp + self.p["standby_power_w"], 0.0)

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        c = world.at(now)
        self._integrate(now)
        self.mains = c.power[self.district]
        rate = self.p["passers_per_hour"] * c.traffic[self.district] / 3600
        out = np.empty((self.n, 4))
        out[:, 0] = self.dim
        out[:, 1] = self.power_w()
        out[:, 2] = self.energy_wh
        out[:, 3] = rng.poisson(rate * dt) > 0 if dt > 0 else False
        return out

    def state_values(self, index: int) -> list[Value]:
        return [float(self.dim[index]), bool(self.on[index])]

    def apply(self, index: int, command: dict[str, Any], now: float) -> bool:
        settings = command_settings(command, SETTINGS, USAGE)
        dim, on = float(self.dim[index]), bool(self.on[index])
        if "dim" in settings:
            dim = number_setting(settings, "dim", 0, 100)
        if "on" in settings:
            if not isinstance(settings["on"], bool):
                raise ContractError(f"'on' must be true or false, not {settings['on']!r}", kind="command")
            on = settings["on"]
        if (dim, on) == (float(self.dim[index]), bool(self.on[index])):
            return False
        # Close the energy account at the old power before switching.
        self._integrate(now)
        self.dim[index], self.on[index] = dim, on
        return True

    def _integrate(self, now: float) -> None:
        if self._since is not None and now > self._since:
            self.energy_wh += self.power_w() * (now - self._since) / 3600
        self._since = now if self._since is None else max(self._since, now)

    def truth(self) -> dict[str, dict[str, float]]:
        return {device: {"energy_wh": round(float(self.energy_wh[i]), 4)} for i, device in enumerate(self.ids)}

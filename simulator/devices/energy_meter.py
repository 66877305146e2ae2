"""Energy meters of buildings: a daily load shape, a wandering load, a cumulative register.

An office draws most between 08:00 and 18:00 on weekdays; a home peaks at
breakfast and in the evening. A slow random load (heating, machines) rides
on top; a power cut takes the building to 0 W. Telemetry: ``power`` (W) and
``energy`` (kWh, the register, integrated exactly between readings).
Ground truth: the energy used (kWh) and the peak power (W).
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Model, Param, Quantity, ou_step
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

LOAD_TAU = 1800.0


def office_shape(hour: float) -> float:
    """0 at night, 1 through the working day, with soft edges."""
    return 1 / (1 + math.exp(-(hour - 8) * 2)) * 1 / (1 + math.exp((hour - 18) * 2))


def home_shape(hour: float) -> float:
    """A breakfast bump and a bigger evening one."""
    return (0.5 * math.exp(-0.5 * ((hour - 7.5) / 1.0) ** 2)
            + math.exp(-0.5 * ((hour - 20.0) / 2.0) ** 2))


class EnergyMeter(Model):
    """Building energy meters reading power (W) and energy (kWh)."""

    kind = "energy_meter"
    PARAMS = (
        Param("base_kw", 2.0, 0, 10_000, "load at night, kW"),
        Param("peak_kw", 10.0, 0, 10_000, "load at the busiest hour, kW"),
        Param("office", False, doc="an office (working hours) rather than homes (mornings and evenings)"),
    )
    QUANTITIES = (
        Quantity("power", "W", 0, 1e8, 1, noise=5.0),
        Quantity("energy", "kWh", 0, 1e12, 0.001),
    )

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self.energy_kwh = np.zeros(self.n)
        self.peak_w = np.zeros(self.n)
        self._wander: np.ndarray | None = None
        self._power: np.ndarray | None = None

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        c = world.at(now)
        if self._power is not None and dt > 0:
            self.energy_kwh += self._power * dt / 3.6e6
        self._wander = ou_step(self._wander, dt, LOAD_TAU, rng, self.n)
        weekday_office = office_shape(c.hour) * (c.weekday < 5)
        shape = np.where(self.p["office"], weekday_office, home_shape(c.hour))
        base, peak = self.p["base_kw"], self.p["peak_kw"]
        power = 1000 * (base + np.maximum(peak - base, 0) * shape) * (1 + 0.1 * self._wander)
        power = np.where(c.power[self.district], np.maximum(power, 0.0), 0.0)
        self._power = power
        self.peak_w = np.maximum(self.peak_w, power)
        out = np.empty((self.n, 2))
        out[:, 0] = power
        out[:, 1] = self.energy_kwh
        return out

    def truth(self) -> dict[str, dict[str, float]]:
        return {device: {"energy_kwh": round(float(self.energy_kwh[i]), 4), "peak_w": round(float(self.peak_w[i]), 1)}
                for i, device in enumerate(self.ids)}

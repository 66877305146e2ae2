"""Sound level meters: street noise following the traffic.

The A-weighted level of a street grows with ten times the logarithm of its
traffic flow (doubling the traffic adds 3 dB), on top of a quiet-night floor;
a stadium event adds a crowd, and the level wanders a couple of decibels
(an Ornstein-Uhlenbeck process over minutes: buses, sirens, wind).
Ground truth: the run's equivalent continuous level Leq (energy average).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Model, Param, Quantity, ou_step
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

WANDER_TAU = 120.0
WANDER_DB = 2.0
# Traffic share that never stops (deliveries, the distant ring road).
FLOOR = 0.05


class Noise(Model):
    """Sound level meters reading noise (dB)."""

    kind = "noise"
    PARAMS = (
        Param("level_db", 65.0, 30, 100, "level at normal daytime traffic, dB(A)"),
        Param("traffic", 1.0, 0, 5, "how busy the street is, 0 a park, 1 a city street, 3 an arterial"),
    )
    QUANTITIES = (Quantity("noise", "dB", 20, 130, 0.1, noise=0.5),)

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self._wander: np.ndarray | None = None
        self._energy = np.zeros(self.n)
        self._seconds = 0.0

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        c = world.at(now)
        self._wander = ou_step(self._wander, dt, WANDER_TAU, rng, self.n)
        flow = FLOOR + self.p["traffic"] * c.traffic[self.district]
        level = (self.p["level_db"] + 10 * np.log10(flow / (FLOOR + 1.0))
                 + c.noise_db[self.district] + WANDER_DB * self._wander)
        if dt > 0:
            self._energy += 10 ** (level / 10) * dt
            self._seconds += dt
        return level[:, None]

    def truth(self) -> dict[str, dict[str, float]]:
        if self._seconds <= 0:
            return {}
        leq = 10 * np.log10(self._energy / self._seconds)
        return {device: {"leq_db": round(float(leq[i]), 2)} for i, device in enumerate(self.ids)}

"""Waste bins with an ultrasonic fill sensor, emptied by a daily round.

Rubbish arrives in lumps (a Poisson number of bags, each a gamma-distributed
few percent of the bin) at a rate that follows the street's activity; the
bin is emptied when the local clock passes ``collection_hour``; a full bin
stays at 100 % and overflows. Telemetry: ``fill`` (%).
Ground truth: collections, hours spent full, and the mean fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Model, Param, Quantity
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

BAG_PERCENT = 2.0
# Mean of the traffic profile over a weekday: keeps fill_per_day a daily mean.
MEAN_ACTIVITY = 0.55


class WasteBin(Model):
    """Waste bins reading fill (%)."""

    kind = "waste_bin"
    mains_powered = False
    PARAMS = (
        Param("fill_per_day", 60.0, 0, 1000, "mean fill added per day, %"),
        Param("collection_hour", 6.0, -1, 23.99, "local hour of the daily round; -1 = never collected"),
        Param("start_fill", 10.0, 0, 100, "fill at the start, %"),
    )
    QUANTITIES = (Quantity("fill", "%", 0, 100, 1, noise=1.5),)

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self.fill = self.p["start_fill"].copy()
        self.collections = np.zeros(self.n, dtype=np.int64)
        self.full_seconds = np.zeros(self.n)
        self.fill_area = np.zeros(self.n)
        self.elapsed = 0.0
        self._hour: float | None = None

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        c = world.at(now)
        if dt > 0:
            activity = c.traffic[self.district] / MEAN_ACTIVITY
            bags = rng.poisson(self.p["fill_per_day"] / BAG_PERCENT * activity * dt / 86_400)
            added = np.where(bags > 0, rng.gamma(np.maximum(bags, 1), BAG_PERCENT), 0.0)
            before = self.fill
            self.fill = np.minimum(self.fill + added, 100.0)
            self.full_seconds += np.where(before >= 100.0, dt, 0.0)
            self.fill_area += (before + self.fill) * dt / 2
            self.elapsed += dt
            if self._hour is not None:
                ch = self.p["collection_hour"]
                # Crossed the round's hour since the last step (around midnight too)?
                crossed = (ch >= 0) & (((self._hour < ch) & (ch <= c.hour))
                                       | ((c.hour < self._hour) & ((ch > self._hour) | (ch <= c.hour))))
                self.fill = np.where(crossed, 0.0, self.fill)
                self.collections += crossed
        self._hour = c.hour
        return self.fill[:, None].copy()

    def truth(self) -> dict[str, dict[str, float]]:
        return {
            device: {"collections": int(self.collections[i]),
                     "hours_full": round(float(self.full_seconds[i] / 3600), 3),
                     "mean_fill": round(float(self.fill_area[i] / max(self.elapsed, 1e-9)), 2)}
            for i, device in enumerate(self.ids)
        }

"""Air-quality stations: PM2.5, PM10, NO2 and O3, all in ug/m3.

- Traffic pollutants (PM and NO2) are a regional background that drifts over
  hours (weather moves it, not the street), multiplied in a pollution
  episode, plus a local part proportional to the street's traffic, which
  follows the clock and the city's events.
- Ozone is made by sunlight with a lag of about two hours, so it peaks in the
  afternoon, and is eaten by fresh NO from traffic (titration), so it is lower
  on busy streets.
Ground truth: time-integrated exposure (ug/m3 h) per pollutant.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Model, Param, Quantity, ou_step
from simulator.sun import solar_elevation
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

# Regional pollution builds up and clears over half a day.
REGIONAL_TAU = 12 * 3_600.0
# Ozone follows the sun this many seconds late.
OZONE_LAG = 2 * 3_600.0
# ug/m3 added per unit of local traffic (traffic parameter x profile).
TRAFFIC_PM2_5 = 12.0
TRAFFIC_PM10 = 22.0
TRAFFIC_NO2 = 45.0
SUN_O3 = 90.0
# ug/m3 of ozone lost per ug/m3 of traffic NO2 (NO + O3 -> NO2 + O2).
TITRATION = 0.5
NAMES = ("pm2_5", "pm10", "no2", "o3")


class AirQuality(Model):
    """Air-quality stations reading pm2_5, pm10, no2 and o3 in ug/m3."""

    kind = "air_quality"
    PARAMS = (
        Param("traffic", 1.0, 0, 5, "how busy the street is, 0 a park, 1 a city street, 3 an arterial"),
        Param("pm2_5_background", 8.0, 0, 300, "regional PM2.5 with no traffic nearby, ug/m3"),
        Param("no2_background", 12.0, 0, 300, "regional NO2 with no traffic nearby, ug/m3"),
        Param("o3_background", 35.0, 0, 300, "night-time ozone, ug/m3"),
    )
    QUANTITIES = tuple(Quantity(name, "ug/m3", 0, 1000, 0.1, noise=0.5) for name in NAMES)

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self._regional: np.ndarray | None = None
        self._exposure = np.zeros((self.n, 4))
        self._hours = 0.0
        self._last: np.ndarray | None = None

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        p = self.p
        c = world.at(now)
        self._regional = ou_step(self._regional, dt, REGIONAL_TAU, rng, self.n)
        regional = np.exp(0.35 * self._regional) * c.pollution[self.district]
        local = p["traffic"] * c.traffic[self.district]
        sun = max(0.0, math.sin(math.radians(
            solar_elevation(now - OZONE_LAG, self.city.latitude, self.city.longitude))))
        traffic_no2 = TRAFFIC_NO2 * local
        out = np.empty((self.n, 4))
        out[:, 0] = p["pm2_5_background"] * regional + TRAFFIC_PM2_5 * local
        out[:, 1] = 1.7 * p["pm2_5_background"] * regional + TRAFFIC_PM10 * local
        out[:, 2] = p["no2_background"] * regional + traffic_no2
        out[:, 3] = np.maximum(p["o3_background"] + SUN_O3 * sun - TITRATION * traffic_no2, 0.0)
        if self._last is not None:
            # Exposure: the true concentration integrated over time (left rectangle rule).
            self._exposure += self._last * (dt / 3600)
            self._hours += dt / 3600
        self._last = out
        return out

    def truth(self) -> dict[str, dict[str, float]]:
        hours = max(self._hours, 1e-9)
        return {
            device: {**{f"{name}_exposure_ugh": round(float(self._exposure[i, k]), 3) for k, name in enumerate(NAMES)},
                     **{f"{name}_mean": round(float(self._exposure[i, k] / hours), 3) for k, name in enumerate(NAMES)}}
            for i, device in enumerate(self.ids)
        }

"""An air-quality station: PM2.5, PM10, NO2 and O3, all in ug/m3.

- Traffic pollutants (PM and NO2) are a regional background that drifts over
  hours (weather moves it, not the street) plus a local part proportional to
  the street's traffic, which follows the clock: morning and evening rush
  peaks, a smaller midday hump, quieter weekends.
- Ozone is made by sunlight with a lag of about two hours, so it peaks in the
  afternoon, and is eaten by fresh NO from traffic (titration), so it is lower
  on busy streets.
Every value gets sensor noise and is never negative.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from simulator.devices.base import Device, Param, Row, ou_step
from simulator.sun import solar_elevation

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

# (local hour, width in hours, height) of the bumps of a weekday's traffic.
RUSH_HOURS = ((8.0, 1.2, 1.0), (18.5, 1.8, 0.9), (13.0, 3.0, 0.35))
NIGHT_TRAFFIC = 0.15
WEEKEND_FACTOR = 0.6
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


class AirQuality(Device):
    """An air-quality station reading pm2_5, pm10, no2 and o3 in ug/m3."""

    kind = "air_quality"
    PARAMS = (
        Param("traffic", 1.0, 0, 5, "how busy the street is, 0 a park, 1 a city street, 3 an arterial"),
        Param("pm2_5_background", 8.0, 0, 300, "regional PM2.5 with no traffic nearby, ug/m3"),
        Param("no2_background", 12.0, 0, 300, "regional NO2 with no traffic nearby, ug/m3"),
        Param("o3_background", 35.0, 0, 300, "night-time ozone, ug/m3"),
    )

    def __init__(self, spec: "DeviceSpec", city: "City") -> None:
        super().__init__(spec, city)
        self._last: float | None = None
        self._regional: float | None = None

    def read(self, now: float, rng: np.random.Generator) -> list[Row]:
        p = self.params
        dt = 0.0 if self._last is None else now - self._last
        self._last = now
        self._regional = ou_step(self._regional, dt, REGIONAL_TAU, rng)
        regional = math.exp(0.35 * self._regional)
        local = p["traffic"] * traffic_profile(self.city.local_time(now))
        sun = max(0.0, math.sin(math.radians(
            solar_elevation(now - OZONE_LAG, self.spec.latitude, self.spec.longitude)
        )))
        traffic_no2 = TRAFFIC_NO2 * local
        levels = {
            "pm2_5": p["pm2_5_background"] * regional + TRAFFIC_PM2_5 * local,
            "pm10": 1.7 * p["pm2_5_background"] * regional + TRAFFIC_PM10 * local,
            "no2": p["no2_background"] * regional + traffic_no2,
            "o3": p["o3_background"] + SUN_O3 * sun - TITRATION * traffic_no2,
        }
        rows: list[Row] = []
        for name, level in levels.items():
            measured = level * (1 + 0.05 * rng.standard_normal()) + 0.3 * rng.standard_normal()
            rows.append((name, "ug/m3", round(max(0.0, float(measured)), 1)))
        return rows


def traffic_profile(local: datetime) -> float:
    """Relative traffic at a local clock time: about 1.2 at the morning peak, 0.15 at night."""
    hour = local.hour + local.minute / 60 + local.second / 3600
    level = NIGHT_TRAFFIC
    for centre, width, height in RUSH_HOURS:
        # Distance around the clock, so 23:00 is one hour from midnight.
        gap = (hour - centre + 12) % 24 - 12
        level += height * math.exp(-0.5 * (gap / width) ** 2)
    return level * (WEEKEND_FACTOR if local.weekday() >= 5 else 1.0)

"""A weather station: temperature, relative humidity and illuminance.

- temperature: an annual cycle plus a daily one, coldest near dawn and warmest
  mid-afternoon (solar time), a slow weather anomaly lasting days. Clouds
  flatten the daily swing.
- humidity: moves against the daily temperature swing (the same air holds the
  same water, warmer air is relatively drier), up under clouds.
- illuminance: clear-sky daylight from the sun's elevation at the city's
  place and the simulated instant, dimmed by a slowly varying cloud cover
  (Kasten and Czeplak's transmission, overcast lets a quarter through).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Model, Param, Quantity, ou_step
from simulator.sun import solar_time_hours
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

# Solar hours of the daily minimum (about dawn) and maximum (mid-afternoon).
COLDEST_HOUR = 5.5
WARMEST_HOUR = 15.0
# How long (seconds) each slow process remembers its past.
TEMPERATURE_TAU = 2 * 86_400.0
CLOUD_TAU = 3 * 3_600.0
MOISTURE_TAU = 6 * 3_600.0
# Day of year with the warmest mean, northern hemisphere (late July).
WARMEST_DAY = 200
# Humidity change per degree of daily temperature swing (%RH per Cel).
RH_PER_CEL = 3.0


class Weather(Model):
    """Weather stations reading temperature (Cel), humidity (%RH) and illuminance (lx)."""

    kind = "weather"
    PARAMS = (
        Param("temp_mean", 16.0, -30, 40, "annual mean temperature, Cel"),
        Param("temp_seasonal", 9.0, 0, 30, "warmest month's mean above the annual mean, Cel"),
        Param("temp_daily_range", 9.0, 0, 30, "clear day's afternoon maximum above the dawn minimum, Cel"),
        Param("humidity_mean", 65.0, 5, 100, "mean relative humidity, %RH"),
        Param("cloudiness", 0.3, 0, 1, "typical cloud cover, 0 clear sky to 1 overcast"),
    )
    QUANTITIES = (
        Quantity("temperature", "Cel", -40, 60, 0.01, noise=0.1),
        Quantity("humidity", "%RH", 0, 100, 0.1, noise=0.5),
        Quantity("illuminance", "lx", 0, 200_000, 1, noise=0.0),
    )

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self._anomaly: np.ndarray | None = None
        self._cloud: np.ndarray | None = None
        self._moisture: np.ndarray | None = None

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        p, n = self.p, self.n
        c = world.at(now)
        self._anomaly = ou_step(self._anomaly, dt, TEMPERATURE_TAU, rng, n)
        self._cloud = ou_step(self._cloud, dt, CLOUD_TAU, rng, n)
        self._moisture = ou_step(self._moisture, dt, MOISTURE_TAU, rng, n)
        cover = cloud_cover(p["cloudiness"], self._cloud)
        # Clouds keep the day cooler and the night warmer: a smaller swing.
        swing = p["temp_daily_range"] / 2 * (1 - 0.5 * cover) * daily_shape(
            solar_time_hours(now, self.city.longitude))
        out = np.empty((n, 3))
        out[:, 0] = (p["temp_mean"] + p["temp_seasonal"] * seasonal_shape(now, self.city.latitude)
                     + swing + 1.5 * self._anomaly)
        out[:, 1] = np.clip(p["humidity_mean"] - RH_PER_CEL * swing + 15 * (cover - p["cloudiness"])
                            + 5 * self._moisture, 5.0, 100.0)
        # A 2% flicker of passing clouds; the sensor itself adds no noise to light here.
        light = c.clear_sky_lx * (1 - 0.75 * cover**3.4) * (1 + 0.02 * rng.standard_normal(n))
        out[:, 2] = np.maximum(light, 0.0)
        return out


def cloud_cover(cloudiness: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cloud cover 0..1 around ``cloudiness``, moved by unit-normal states ``x``.

    Logit-normal, so a sky set to 0 or 1 stays exactly clear or overcast.
    """
    inside = (cloudiness > 0) & (cloudiness < 1)
    safe = np.clip(cloudiness, 1e-9, 1 - 1e-9)
    moved = 1 / (1 + np.exp(-(np.log(safe / (1 - safe)) + 1.2 * x)))
    return np.where(inside, moved, cloudiness)


def daily_shape(solar_hour: float) -> float:
    """-1 at the dawn minimum, +1 at the afternoon maximum, half-cosines between."""
    rise = WARMEST_HOUR - COLDEST_HOUR
    since_min = (solar_hour - COLDEST_HOUR) % 24
    if since_min < rise:
        return -math.cos(math.pi * since_min / rise)
    return math.cos(math.pi * (since_min - rise) / (24 - rise))


def seasonal_shape(unix_time: float, latitude: float) -> float:
    """+1 in the warmest part of the year, -1 in the coldest, for either hemisphere."""
    day = datetime.fromtimestamp(unix_time, tz=timezone.utc).timetuple().tm_yday
    shape = math.cos(2 * math.pi * (day - WARMEST_DAY) / 365.25)
    return shape if latitude >= 0 else -shape

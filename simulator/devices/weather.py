"""A weather station: temperature, relative humidity and illuminance.

- temperature: an annual cycle plus a daily one, coldest near dawn and warmest
  mid-afternoon (solar time), a slow weather anomaly lasting days, and sensor
  noise. Clouds flatten the daily swing.
- humidity: moves against the daily temperature swing (the same air holds the
  same water, warmer air is relatively drier), up under clouds.
- illuminance: clear-sky daylight from the sun's elevation at the station's
  place and the simulated instant, dimmed by a slowly varying cloud cover.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from simulator.devices.base import Device, Param, Row, ou_step
from simulator.sun import clear_sky_illuminance, solar_elevation, solar_time_hours

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


class Weather(Device):
    """A weather station reading temperature (Cel), humidity (%RH) and illuminance (lx)."""

    kind = "weather"
    PARAMS = (
        Param("temp_mean", 16.0, -30, 40, "annual mean temperature, Cel"),
        Param("temp_seasonal", 9.0, 0, 30, "warmest month's mean above the annual mean, Cel"),
        Param("temp_daily_range", 9.0, 0, 30, "clear day's afternoon maximum above the dawn minimum, Cel"),
        Param("humidity_mean", 65.0, 5, 100, "mean relative humidity, %RH"),
        Param("cloudiness", 0.3, 0, 1, "typical cloud cover, 0 clear sky to 1 overcast"),
    )

    def __init__(self, spec: "DeviceSpec", city: "City") -> None:
        super().__init__(spec, city)
        self._last: float | None = None
        self._temperature_anomaly: float | None = None
        self._cloud: float | None = None
        self._moisture: float | None = None

    def read(self, now: float, rng: np.random.Generator) -> list[Row]:
        p = self.params
        dt = 0.0 if self._last is None else now - self._last
        self._last = now
        self._temperature_anomaly = ou_step(self._temperature_anomaly, dt, TEMPERATURE_TAU, rng)
        self._cloud = ou_step(self._cloud, dt, CLOUD_TAU, rng)
        self._moisture = ou_step(self._moisture, dt, MOISTURE_TAU, rng)

        cover = cloud_cover(p["cloudiness"], self._cloud)
        # Clouds keep the day cooler and the night warmer: a smaller swing.
        swing = p["temp_daily_range"] / 2 * (1 - 0.5 * cover) * daily_shape(
            solar_time_hours(now, self.spec.longitude)
        )
        temperature = (
            p["temp_mean"]
            + p["temp_seasonal"] * seasonal_shape(now, self.spec.latitude)
            + swing
            + 1.5 * self._temperature_anomaly
            + 0.1 * rng.standard_normal()
        )
        humidity = (
            p["humidity_mean"]
            - RH_PER_CEL * swing
            + 15 * (cover - p["cloudiness"])
            + 5 * self._moisture
            + 0.5 * rng.standard_normal()
        )
        elevation = solar_elevation(now, self.spec.latitude, self.spec.longitude)
        # Kasten and Czeplak's cloud transmission: overcast lets through a quarter.
        light = clear_sky_illuminance(elevation) * (1 - 0.75 * cover**3.4)
        light *= 1 + 0.02 * rng.standard_normal()
        return [
            ("temperature", "Cel", round(float(temperature), 2)),
            ("humidity", "%RH", round(float(min(100.0, max(5.0, humidity))), 1)),
            ("illuminance", "lx", float(round(max(0.0, light)))),
        ]


def cloud_cover(cloudiness: float, x: float) -> float:
    """Cloud cover 0..1 around ``cloudiness``, moved by a unit-normal state ``x``.

    Logit-normal, so a sky set to 0 or 1 stays exactly clear or overcast.
    """
    if cloudiness <= 0.0 or cloudiness >= 1.0:
        return float(cloudiness)
    logit = math.log(cloudiness / (1 - cloudiness)) + 1.2 * x
    return 1 / (1 + math.exp(-logit))


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

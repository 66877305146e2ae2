"""Where the sun is, and how much daylight that makes.

The solar position follows NOAA's "General Solar Position Calculations"
(Spencer's 1971 Fourier series for the equation of time and the declination),
good to a fraction of a degree, which is all a light sensor can tell. Clear-sky
illuminance is a smooth function of the elevation, about 100,000 lx with the
sun high, a few hundred lux at sunset and 0 once civil twilight is over.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

# Daylight at the horizon (sun's centre on it): what a lux meter reads at sunset.
HORIZON_LX = 400.0
# Below this elevation (degrees) the sky is dark for a street sensor.
NIGHT_ELEVATION = -12.0


def _fractional_year(utc: datetime) -> float:
    """Spencer's day angle, in radians, for a UTC instant."""
    days_in_year = 366 if _is_leap(utc.year) else 365
    hour = utc.hour + utc.minute / 60 + utc.second / 3600 + utc.microsecond / 3.6e9
    return 2 * math.pi / days_in_year * (utc.timetuple().tm_yday - 1 + (hour - 12) / 24)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def equation_of_time(gamma: float) -> float:
    """Minutes the sundial runs ahead of mean solar time on day angle ``gamma``."""
    return 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )


def declination(gamma: float) -> float:
    """The sun's declination, in radians, on day angle ``gamma``."""
    return (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )


def solar_time_hours(unix_time: float, longitude: float) -> float:
    """True solar time at ``longitude`` in hours, 0 to 24 (12 = the sun is highest)."""
    utc = datetime.fromtimestamp(unix_time, tz=timezone.utc)
    minutes = utc.hour * 60 + utc.minute + utc.second / 60 + utc.microsecond / 6e7
    minutes += equation_of_time(_fractional_year(utc)) + 4 * longitude
    return (minutes / 60) % 24


def solar_elevation(unix_time: float, latitude: float, longitude: float) -> float:
    """The sun's elevation above the horizon in degrees (negative at night).

    No refraction correction: it matters only within a degree of the horizon,
    where the illuminance model is already a rough twilight curve.
    """
    utc = datetime.fromtimestamp(unix_time, tz=timezone.utc)
    gamma = _fractional_year(utc)
    decl = declination(gamma)
    hour_angle = math.radians(solar_time_hours(unix_time, longitude) * 15 - 180)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(hour_angle)
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def clear_sky_illuminance(elevation: float) -> float:
    """Global horizontal illuminance under a clear sky, in lux, for an elevation in degrees.

    Above the horizon: direct-plus-diffuse light attenuated along the air mass
    (``1 / sin h``), about 106,000 lx with the sun overhead and 44,000 lx at
    30 degrees. Below it, twilight fades by a factor of ~50 per 6 degrees and is
    cut to 0 at ``NIGHT_ELEVATION`` so night reads exactly 0.
    """
    if elevation <= NIGHT_ELEVATION:
        return 0.0
    twilight = HORIZON_LX * math.exp(min(elevation, 0.0) / 1.5)
    if elevation <= 0:
        return twilight
    s = math.sin(math.radians(elevation))
    return 130_000.0 * s * math.exp(-0.2 / s) + twilight

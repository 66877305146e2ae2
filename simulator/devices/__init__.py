"""Device models, one module each; ``DEVICE_TYPES`` maps a city file's ``type`` to its class.

Adding a model: a module with a ``Device`` (or ``Actuator``) subclass that sets
``kind`` and ``PARAMS`` and overrides ``read`` (and ``apply``/``state``), and
one row below.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from simulator.devices.air_quality import AirQuality
from simulator.devices.base import Actuator, Device, Param, Row
from simulator.devices.streetlight import Streetlight
from simulator.devices.weather import Weather

# Read-only, so the registry cannot become hidden shared state between runs.
DEVICE_TYPES: Mapping[str, type[Device]] = MappingProxyType(
    {cls.kind: cls for cls in (Weather, AirQuality, Streetlight)}
)

__all__ = ["Actuator", "AirQuality", "DEVICE_TYPES", "Device", "Param", "Row", "Streetlight", "Weather"]

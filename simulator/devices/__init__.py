"""Device models, one module each; ``DEVICE_TYPES`` maps a city file's ``type`` to its class.

Adding a model: a module with a ``Model`` (or ``ActuatorModel``) subclass that
sets ``kind``, ``PARAMS`` and ``QUANTITIES`` and overrides ``step`` (and
``apply``/``state_values``), and one entry below.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from simulator.devices.air_quality import AirQuality
from simulator.devices.base import ActuatorModel, Model, Param, Quantity, Row
from simulator.devices.energy_meter import EnergyMeter
from simulator.devices.noise import Noise
from simulator.devices.parking import Parking, ParkingBay
from simulator.devices.streetlight import Streetlight
from simulator.devices.traffic import TrafficSignal
from simulator.devices.waste_bin import WasteBin
from simulator.devices.weather import Weather

# Read-only, so the registry cannot become hidden shared state between runs.
DEVICE_TYPES: Mapping[str, type[Model]] = MappingProxyType(
    {cls.kind: cls for cls in (Weather, AirQuality, Streetlight, Noise, TrafficSignal, Parking, WasteBin, EnergyMeter,
                               ParkingBay)}
)

__all__ = ["ActuatorModel", "AirQuality", "DEVICE_TYPES", "EnergyMeter", "Model", "Noise", "Param", "Parking",
           "ParkingBay",
           "Quantity", "Row", "Streetlight", "TrafficSignal", "WasteBin", "Weather"]

"""The virtual city: a city file, device models, a SimPy engine and its MQTT service.

    city.py          the City file format (TOML) and ``load_city``
    sun.py           solar position and clear-sky illuminance
    devices/         one module per device model, on a small common base
    engine.py        ``Simulation``: the SimPy run, publishing through a callback
    service.py       ``SimulatorService``: a Simulation on an MQTT broker
"""

from simulator.city import City, DeviceSpec, available_cities, load_city
from simulator.engine import Simulation
from simulator.service import SimulatorService

__all__ = ["City", "DeviceSpec", "Simulation", "SimulatorService", "available_cities", "load_city"]

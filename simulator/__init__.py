"""The virtual city: city files, device physics, imperfect sensors and networks, scenarios, a SimPy engine.

    city.py          the city file format (TOML): devices, [[generate]] sections, events; ``load_city``
    cities/          default (citylab up), old-town (~200 devices, the labs), metropolis (10,000)
    devices/         one module per device model over ``devices/base.py``; each simulates all
                     devices of its type at once with numpy
    world.py         the city at an instant: clock, sun, traffic, active events, per district
    scenario.py      scenario events (rush hour, stadium, pollution episode, power cut, failures, outages)
    sensors.py       imperfect sensors: noise, bias, drift, outliers, stuck, dropouts, battery
    network.py       imperfect networks: latency, jitter, loss, outages, LoRa airtime and duty cycle
    packs.py         SenML packs for a whole group at once (proved against the contract by tests)
    group.py         a group of like devices: model -> sensors -> network -> packs
    engine.py        ``Simulation``: the SimPy run, commands, injections, ground-truth KPIs
    export.py        a run written to a JSON Lines file (every message, then the KPIs)
    service.py       ``SimulatorService``: a Simulation on an MQTT broker
    commands.py      ``citylab sim`` (run, inject, export, cities)
    sun.py           solar position and clear-sky illuminance
"""

from simulator.city import City, DeviceSpec, available_cities, load_city
from simulator.engine import Simulation
from simulator.scenario import ScenarioEvent
from simulator.service import SimulatorService

__all__ = ["City", "DeviceSpec", "ScenarioEvent", "Simulation", "SimulatorService", "available_cities", "load_city"]

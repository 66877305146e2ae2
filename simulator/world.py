"""The shared state of the city at an instant: clock, sun, traffic and active events.

Device models ask the ``World`` instead of each working out the hour, the
sun or the events for themselves: that is done once per instant for the
whole city and handed out as per-district arrays, which a model indexes with
its devices' district codes (``Model.district``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.scenario import ScenarioEvent
from simulator.sun import clear_sky_illuminance, solar_elevation

if TYPE_CHECKING:
    from simulator.city import City

# (local hour, width in hours, height) of the bumps of a weekday's traffic.
RUSH_HOURS = ((8.0, 1.2, 1.0), (18.5, 1.8, 0.9), (13.0, 3.0, 0.35))
NIGHT_TRAFFIC = 0.15
WEEKEND_FACTOR = 0.6
STADIUM_NOISE_DB = 10.0
STADIUM_PARKING = 3.0


def traffic_profile(hour: float, weekday: int) -> float:
    """Relative traffic at a local clock hour: about 1.2 at the morning peak, 0.15 at night."""
    level = NIGHT_TRAFFIC
    for centre, width, height in RUSH_HOURS:
        # Distance around the clock, so 23:00 is one hour from midnight.
        gap = (hour - centre + 12) % 24 - 12
        level += height * math.exp(-0.5 * (gap / width) ** 2)
    return level * (WEEKEND_FACTOR if weekday >= 5 else 1.0)


@dataclass
class Conditions:
    """The city at one instant; arrays are indexed by district code."""

    now: float
    t: float                   # simulated seconds since the run's start
    hour: float                # local clock hour, 0..24
    weekday: int               # local day of the week, Monday 0
    traffic_base: float        # the clock's traffic profile, before events
    elevation: float           # the sun's elevation at the city centre, degrees
    clear_sky_lx: float
    traffic: np.ndarray        # traffic factor per district (profile x events)
    pollution: np.ndarray      # background pollution factor per district
    noise_db: np.ndarray       # extra noise per district, dB
    parking: np.ndarray        # parking demand factor per district
    power: np.ndarray          # True where the mains are on
    events: tuple[ScenarioEvent, ...]


class World:
    """The city's shared environment, computed once per instant and cached."""

    def __init__(self, city: "City", epoch: float, events: Sequence[ScenarioEvent] = ()) -> None:
        self.city = city
        self.epoch = epoch
        self.districts: list[str] = list(city.districts)
        self.code = {name: i for i, name in enumerate(self.districts)}
        self.events: list[ScenarioEvent] = list(events)
        self._cached: Conditions | None = None
        self._zone = city.zone()
        self._masks: dict[ScenarioEvent, np.ndarray] = {}

    def add_event(self, event: ScenarioEvent) -> None:
        """Schedule an event (an injection); it applies from its start on."""
        self.events.append(event)
        self._cached = None

    def codes(self, districts: Sequence[str]) -> np.ndarray:
        """District codes for a list of district names."""
        return np.array([self.code[d] for d in districts], dtype=np.intp)

    def at(self, now: float) -> Conditions:
        """The conditions at Unix time ``now`` (cached: every model asks for the same instant)."""
        if self._cached is not None and self._cached.now == now:
            return self._cached
        from datetime import datetime

        local = datetime.fromtimestamp(now, tz=self._zone)
        hour = local.hour + local.minute / 60 + local.second / 3600
        base = traffic_profile(hour, local.weekday())
        t = now - self.epoch
        d = len(self.districts)
        traffic = np.full(d, base)
        pollution = np.ones(d)
        noise = np.zeros(d)
        parking = np.ones(d)
        power = np.ones(d, dtype=bool)
        active = tuple(e for e in self.events if e.active(t))
        for event in active:
            where = self._district_mask(event)
            if event.type in ("rush_hour", "stadium"):
                traffic[where] *= event.intensity
            if event.type == "stadium":
                noise[where] += STADIUM_NOISE_DB
                parking[where] *= STADIUM_PARKING
            elif event.type == "pollution_episode":
                pollution[where] *= event.intensity
            elif event.type == "power_cut":
                power[where] = False
        elevation = solar_elevation(now, self.city.latitude, self.city.longitude)
        self._cached = Conditions(now, t, hour, local.weekday(), base, elevation, clear_sky_illuminance(elevation),
                                  traffic, pollution, noise, parking, power, active)
        return self._cached

    def _district_mask(self, event: ScenarioEvent) -> np.ndarray:
        cached = self._masks.get(event)
        if cached is not None:
            return cached
        mask = self._masks[event] = np.zeros(len(self.districts), dtype=bool)
        if event.devices:
            # Device-targeted events act on the districts those devices are in.
            for spec in self.city.devices:
                if spec.id in event.devices:
                    mask[self.code[spec.district]] = True
        elif event.district:
            if event.district in self.code:
                mask[self.code[event.district]] = True
        else:
            mask[:] = True
        return mask

"""Parking lots: time-varying Poisson arrivals, random stays, ultrasonic bay sensors.

A lot of ``spaces`` bays. Cars arrive as a Poisson process whose rate follows
the clock (and a stadium event's crowd) unless ``follows_clock`` is false;
each stays an exponential time of mean ``mean_stay_min`` (Erlang's loss
formula holds for any stay distribution with that mean); a car that finds
the lot full is turned away. The lot is advanced in steps of at most
``MAX_STEP_S`` whatever the reading interval: departures first (each car
leaves with probability 1 - exp(-h / stay)), then arrivals up to the free bays.

Each bay has an overhead ultrasonic sensor: about ``depth_m`` to the floor
when empty, ``depth_m - CAR_HEIGHT_M`` to a roof when taken, read against a
threshold half-way. Telemetry: ``occupied`` and ``free`` (count, from the
bay sensors) and ``distance`` (m, the raw echo of bay 1, tracked bay by bay).
Ground truth: arrivals, cars turned away, the blocking fraction and the
mean occupancy per lot.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Sequence

import numpy as np

from simulator.devices.base import Model, Param, Quantity
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

MAX_STEP_S = 10.0
CAR_HEIGHT_M = 1.5


class Parking(Model):
    """Parking lots reporting occupied and free bays (count) and bay 1's echo distance (m)."""

    kind = "parking"
    mains_powered = False
    PARAMS = (
        Param("spaces", 20.0, 1, 5000, "bays in the lot"),
        Param("arrivals_per_hour", 20.0, 0, 20_000, "cars arriving per hour at normal demand"),
        Param("mean_stay_min", 60.0, 1, 1440, "mean stay, minutes"),
        Param("depth_m", 2.5, 1.6, 6, "sensor height above an empty bay, m"),
        Param("follows_clock", True, doc="demand follows the clock and events; false = constant rate"),
    )
    QUANTITIES = (
        Quantity("occupied", "count", 0, 5000, 1),
        Quantity("free", "count", 0, 5000, 1),
        Quantity("distance", "m", 0, 6, 0.01, noise=0.02),
    )

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self.spaces = np.rint(self.p["spaces"]).astype(np.int64)
        self.occupied = np.zeros(self.n, dtype=np.int64)
        self.bay1 = np.zeros(self.n, dtype=bool)
        self.arrived = np.zeros(self.n, dtype=np.int64)
        self.turned_away = np.zeros(self.n, dtype=np.int64)
        self.occupancy_area = np.zeros(self.n)
        self.elapsed = 0.0
        self._started = False

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        p = self.p
        c = world.at(now)
        demand = np.where(p["follows_clock"], c.traffic[self.district] * c.parking[self.district], 1.0)
        rate = p["arrivals_per_hour"] * demand / 3600
        if not self._started:
            # Start near the lot's steady state (offered load, capped) rather than empty.
            self._started = True
            self.occupied = np.minimum(np.rint(rate * p["mean_stay_min"] * 60).astype(np.int64), self.spaces)
            self.bay1 = rng.random(self.n) < self.occupied / self.spaces
        if dt > 0:
            steps = max(1, math.ceil(dt / MAX_STEP_S - 1e-9))
            h = dt / steps
            leave = 1.0 - np.exp(-h / (p["mean_stay_min"] * 60))
            for _ in range(steps):
                self._advance(h, rate, leave, rng)
        out = np.empty((self.n, 3))
        out[:, 0] = self.occupied
        out[:, 1] = self.spaces - self.occupied
        out[:, 2] = np.where(self.bay1, p["depth_m"] - CAR_HEIGHT_M, p["depth_m"])
        return out

    def _advance(self, h: float, rate: np.ndarray, leave: np.ndarray, rng: np.random.Generator) -> None:
        before = self.occupied
        gone = rng.binomial(before, leave)
        # Bay 1 empties with the share of cars that left.
        self.bay1 &= rng.random(self.n) >= np.divide(gone, before, out=np.zeros(self.n), where=before > 0)
        occupied = before - gone
        came = rng.poisson(rate * h)
        free = self.spaces - occupied
        admitted = np.minimum(came, free)
        # A new car takes bay 1 if it is free, as likely as any other free bay.
        self.bay1 |= rng.random(self.n) < np.divide(admitted, free, out=np.zeros(self.n), where=free > 0)
        self.occupied = occupied + admitted
        self.arrived += came
        self.turned_away += came - admitted
        self.occupancy_area += (before + self.occupied) * (h / 2)
        self.elapsed += h

    def truth(self) -> dict[str, dict[str, float]]:
        out = {}
        for i, device in enumerate(self.ids):
            arrived = int(self.arrived[i])
            out[device] = {
                "arrivals": arrived,
                "turned_away": int(self.turned_away[i]),
                "blocking": round(int(self.turned_away[i]) / arrived, 5) if arrived else 0.0,
                "mean_occupied": round(float(self.occupancy_area[i] / max(self.elapsed, 1e-9)), 3),
            }
        return out


def erlang_b(servers: int, offered_erlangs: float) -> float:
    """Erlang's loss formula: the share of arrivals a full group of ``servers`` turns away."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_erlangs * b / (k + offered_erlangs * b)
    return b

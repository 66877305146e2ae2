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

``parking_bay`` is one bay seen by its own ultrasonic sensor, for a
controller that must work out occupancy itself (lab 04): it reports only the
raw ``distance`` (m), with what makes a plain threshold flap: the echo off a
manoeuvring car, a person walking under the sensor, the echo lost off a
sloped windscreen (the sensor then reads its maximum range). Ground truth:
the bay's occupancy timeline.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING, Any, Sequence

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


# --- one bay, one sensor --------------------------------------------------------------

MAX_RANGE_M = 4.0       # an ultrasonic ranger's reading when no echo comes back
MANOEUVRE_S = 45.0      # parking or leaving: the sensor sees part of the car, part of the floor
MIN_GAP_S = 60.0        # a freed bay is not taken again before the car has left the aisle
PASS_S = 2.0            # a walker is under the beam for about this long
HEAD_HEIGHT_M = (1.5, 1.9)
CAR_HEIGHT_RANGE_M = (1.35, 1.95)  # saloons to vans
ROOF_SCATTER_M = 0.04   # a curved roof scatters the echo more than a flat floor


class ParkingBay(Model):
    """One parking bay under an overhead ultrasonic sensor reporting the raw distance (m).

    A bay alternates between empty and taken: a freed bay waits ``MIN_GAP_S``
    plus an exponential time of mean 1 / ``arrivals_per_hour`` (times the
    clock's demand when it is freed, if ``follows_clock``); a car stays
    ``2 x MANOEUVRE_S`` plus an exponential time of mean ``mean_stay_min``.
    Each change is kept at its exact instant (no time step), so the truth a
    grader reads is exact.

    What the sensor sees at a reading: the floor (``depth_m``) when empty, a
    walker's head with probability ``1 - exp(-passers_per_hour x PASS_S)``;
    the car's roof (``depth_m`` minus the car's height) when parked, the echo
    lost (``MAX_RANGE_M``) with probability ``echo_loss``; during the
    manoeuvre (the first and last ``MANOEUVRE_S`` of a stay), anything between
    the roof and the floor.
    The sensor's own noise and outliers are ``simulator.sensors``' job.
    """

    kind = "parking_bay"
    mains_powered = False
    PARAMS = (
        Param("depth_m", 2.5, 1.6, 3.8, "sensor height above the empty bay, m"),
        Param("arrivals_per_hour", 3.0, 0, 120, "cars arriving per hour at an empty bay, normal demand"),
        Param("mean_stay_min", 30.0, 1, 1440, "mean stay after parking, minutes"),
        Param("passers_per_hour", 20.0, 0, 3600, "people walking under the sensor per hour"),
        Param("echo_loss", 0.03, 0, 1, "probability a reading off a car gets no echo"),
        Param("follows_clock", True, doc="demand follows the clock and events; false = constant rate"),
    )
    QUANTITIES = (Quantity("distance", "m", 0.02, MAX_RANGE_M, 0.01, noise=0.02),)

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        self.occupied = np.zeros(self.n, dtype=bool)
        self.change_at = np.full(self.n, np.inf)     # the next arrival (empty) or departure (taken)
        self.arrived_at = np.full(self.n, -np.inf)
        self.height = np.zeros(self.n)
        self.timeline: list[list[list[float]]] = [[] for _ in range(self.n)]
        self.arrivals = np.zeros(self.n, dtype=np.int64)
        self._started = False

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        p = self.p
        c = world.at(now)
        demand = np.where(p["follows_clock"], c.traffic[self.district] * c.parking[self.district], 1.0)
        rate = p["arrivals_per_hour"] * demand / 3600
        if not self._started:
            self._start(now, rate, rng)
        while True:
            due = np.flatnonzero(self.change_at <= now)
            if len(due) == 0:
                break
            self._change(due, rate, rng)
        distance = np.full(self.n, p["depth_m"])
        parked = self.occupied & (now - self.arrived_at >= MANOEUVRE_S) & (self.change_at - now >= MANOEUVRE_S)
        distance[parked] -= self.height[parked] + ROOF_SCATTER_M * rng.standard_normal(int(parked.sum()))
        moving = self.occupied & ~parked
        distance[moving] -= self.height[moving] * rng.random(int(moving.sum()))
        walker = ~self.occupied & ~moving & (rng.random(self.n) < -np.expm1(-p["passers_per_hour"] * PASS_S / 3600))
        distance[walker] -= rng.uniform(*HEAD_HEIGHT_M, int(walker.sum()))
        lost = parked & (rng.random(self.n) < p["echo_loss"])
        distance[lost] = MAX_RANGE_M
        return distance[:, None]

    def _start(self, now: float, rate: np.ndarray, rng: np.random.Generator) -> None:
        # Start in the steady state: taken with the share of time a bay is taken.
        self._started = True
        stay = 2 * MANOEUVRE_S + self.p["mean_stay_min"] * 60
        gap = MIN_GAP_S + np.divide(1.0, rate, out=np.full(self.n, np.inf), where=rate > 0)
        self.occupied = rng.random(self.n) < stay / (stay + gap)
        self.height = rng.uniform(*CAR_HEIGHT_RANGE_M, self.n)
        # A car found parked has been there a while; its departure is memoryless.
        self.change_at = np.where(self.occupied, now + MANOEUVRE_S + rng.exponential(self.p["mean_stay_min"] * 60),
                                  now + self._wait(rate, rng, self.n))
        for i in range(self.n):
            self.timeline[i].append([now, float(self.occupied[i])])

    def _wait(self, rate: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
        scale = np.divide(1.0, rate, out=np.full(n, np.inf), where=rate > 0)
        return rng.exponential(np.where(np.isfinite(scale), scale, 1.0), n) + np.where(np.isfinite(scale), 0, np.inf)

    def _change(self, due: np.ndarray, rate: np.ndarray, rng: np.random.Generator) -> None:
        at = self.change_at[due]
        leaving = self.occupied[due]
        gone, came = due[leaving], due[~leaving]
        self.occupied[due] = ~leaving
        if len(gone):
            self.change_at[gone] += MIN_GAP_S + self._wait(rate[gone], rng, len(gone))
        if len(came):
            self.arrivals[came] += 1
            self.arrived_at[came] = self.change_at[came]
            self.height[came] = rng.uniform(*CAR_HEIGHT_RANGE_M, len(came))
            self.change_at[came] += 2 * MANOEUVRE_S + rng.exponential(self.p["mean_stay_min"][came] * 60)
        for i, t, was in zip(due.tolist(), at.tolist(), leaving.tolist()):
            self.timeline[i].append([t, 0.0 if was else 1.0])

    def truth(self) -> dict[str, dict[str, Any]]:
        """Per bay: arrivals and the occupancy timeline ``[[unix time, 1 taken | 0 free], ...]``."""
        return {device: {"arrivals": int(self.arrivals[i]), "timeline": [list(x) for x in self.timeline[i]]}
                for i, device in enumerate(self.ids)}

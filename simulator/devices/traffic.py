"""Traffic counters at signalised intersections: queues served at saturation flow during green.

Each intersection has two approaches, main and side, under a fixed-time plan:
a cycle of ``cycle`` seconds whose effective green (the cycle minus the lost
time) is split ``split`` : ``1 - split`` between them. Vehicles arrive as a
Poisson process (the rate follows the clock and the city's events unless
``follows_clock`` is false; with ``events_on_side_only`` the events load the
side approach alone, a side road that leads to a venue) and join a queue that discharges at the
saturation flow while its light is green. The queue is advanced in steps of
at most one second whatever the reading interval, with the green time of
each step computed exactly, so the delay does not depend on the interval.

Telemetry: ``vehicles`` (count that crossed the stop lines since the last
reading), ``queue_main`` and ``queue_side`` (vehicles waiting, count),
``vehicles_main`` and ``vehicles_side`` (the stop-line count of each
approach; arrivals are these plus the queue's growth). State
(retained): ``cycle`` (s) and ``split`` (/). Commands:
``{"set": {"cycle": 30..180, "split": 0.1..0.9}}``.
Ground truth: the mean delay per vehicle (queue area over arrivals, Little's
law), the mean queue and the arrivals, per approach; and ``plans``, every plan
the signal ran, ``[unix time, cycle, split]`` from its start (the state
topic cannot tell two plans set at one instant apart, this can).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from simulator.devices.base import ActuatorModel, Param, Quantity, Value, command_settings, number_setting
from simulator.world import World

if TYPE_CHECKING:
    from simulator.city import City, DeviceSpec

USAGE = 'a traffic signal obeys {"set": {"cycle": 30..180, "split": 0.1..0.9}}'
SETTINGS = ("cycle", "split")
MAX_STEP_S = 1.0
CYCLE_RANGE = (30.0, 180.0)
SPLIT_RANGE = (0.1, 0.9)


class TrafficSignal(ActuatorModel):
    """Signalised intersections with loop counters on a main and a side approach."""

    kind = "traffic"
    PARAMS = (
        Param("main_per_hour", 600.0, 0, 3600, "vehicles arriving on the main approach per hour at normal traffic"),
        Param("side_per_hour", 300.0, 0, 3600, "vehicles arriving on the side approach per hour at normal traffic"),
        Param("saturation_per_hour", 1800.0, 100, 3600, "saturation flow of an approach, vehicles per hour of green"),
        Param("cycle", 60.0, *CYCLE_RANGE, "signal cycle, s"),
        Param("split", 0.6, *SPLIT_RANGE, "main approach's share of the effective green"),
        Param("lost_time", 8.0, 0, 20, "lost time per cycle (amber, all-red, start-up), s"),
        Param("follows_clock", True, doc="arrivals follow rush hours and events; false = constant rates"),
        Param("events_on_side_only", False,
              doc="scenario events load the side approach alone (the road to a venue); the main keeps the clock's"),
    )
    QUANTITIES = (
        Quantity("vehicles", "count", 0, 100_000, 1),
        Quantity("queue_main", "count", 0, 10_000, 1),
        Quantity("queue_side", "count", 0, 10_000, 1),
        # Last, so the packs of older readers start as they did.
        Quantity("vehicles_main", "count", 0, 100_000, 1),
        Quantity("vehicles_side", "count", 0, 100_000, 1),
    )
    STATE = (Quantity("cycle", "s", 30, 180, 0.1), Quantity("split", "/", 0, 1, 0.001))

    def __init__(self, specs: Sequence["DeviceSpec"], city: "City") -> None:
        super().__init__(specs, city)
        p = self.p
        for key in ("cycle", "split"):
            p[key] = p[key].copy()
        self.cycle_start = np.zeros(self.n)      # Unix time the current plan's cycle began
        self.queue = np.zeros((self.n, 2))
        self.area = np.zeros((self.n, 2))        # vehicle-seconds spent queueing
        self.arrivals = np.zeros((self.n, 2))
        self.departed = np.zeros((self.n, 2))
        self._reported = np.zeros((self.n, 2))
        self._elapsed = 0.0
        self._started = False
        self._plans: list[list[list[float]]] = [[] for _ in range(self.n)]

    def step(self, now: float, dt: float, rng: np.random.Generator, world: World) -> np.ndarray:
        p = self.p
        if not self._started:
            self.cycle_start[:] = now
            self._started = True
            for i in range(self.n):
                self._plans[i].append([now, float(p["cycle"][i]), float(p["split"][i])])
        if dt > 0:
            c = world.at(now)
            factor = np.where(p["follows_clock"], c.traffic[self.district], 1.0)
            main_factor = np.where(p["follows_clock"] & p["events_on_side_only"], c.traffic_base, factor)
            rates = np.stack([p["main_per_hour"] * main_factor, p["side_per_hour"] * factor], axis=1) / 3600
            steps = max(1, math.ceil(dt / MAX_STEP_S - 1e-9))
            h = dt / steps
            starts = now - dt + h * np.arange(steps)
            self._advance(starts, h, rates, p["saturation_per_hour"][:, None] / 3600, rng)
            self._elapsed += dt
        out = np.empty((self.n, 5))
        passed = np.floor(self.departed) - self._reported
        self._reported = np.floor(self.departed)
        out[:, 0] = passed.sum(axis=1)
        out[:, 1:3] = np.rint(self.queue)
        out[:, 3:] = passed
        return out

    def _advance(self, starts: np.ndarray, h: float, rates: np.ndarray, saturation: np.ndarray,
                 rng: np.random.Generator) -> None:
        """Advance every queue over steps of ``h`` seconds beginning at ``starts``, all at once.

        The queue obeys Lindley's recursion Q_k = max(0, Q_{k-1} + a_k - c_k)
        (a arrivals, c the green's capacity), whose solution
        Q_k = S_k - min(-Q_0, min_{j<=k} S_j), with S the running sum of a - c,
        needs no Python loop over the steps.
        """
        arrived = rng.poisson(rates * h, size=(len(starts), *rates.shape))
        capacity = saturation * self.green_seconds(starts, h)
        running = np.cumsum(arrived - capacity, axis=0)
        floor = np.minimum(np.minimum.accumulate(running, axis=0), -self.queue)
        queues = running - floor
        before = np.concatenate([self.queue[None], queues[:-1]], axis=0)
        # Trapezoid: arrivals and departures spread over each step.
        self.area += (before + queues).sum(axis=0) * (h / 2)
        total = arrived.sum(axis=0)
        self.departed += self.queue + total - queues[-1]
        self.arrivals += total
        self.queue = queues[-1]

    def green_seconds(self, starts: np.ndarray, h: float) -> np.ndarray:
        """Seconds of green for each approach in [t, t + h] for each t of ``starts``: shape (steps, N, 2)."""
        p = self.p
        cycle = p["cycle"]
        effective = cycle - p["lost_time"]
        g_main = p["split"] * effective
        g_side = effective - g_main
        half_lost = p["lost_time"] / 2
        u = np.mod(starts[:, None] - self.cycle_start[None, :], cycle)
        windows = ((np.zeros(self.n), g_main), (g_main + half_lost, g_main + half_lost + g_side))
        out = np.empty((len(starts), self.n, 2))
        for j, (a, b) in enumerate(windows):
            # The step may wrap into the next cycle: count both sides of the wrap.
            out[:, :, j] = _overlap(u, u + h, a, b) + _overlap(u - cycle, u + h - cycle, a, b)
        return out

    def state_values(self, index: int) -> list[Value]:
        return [float(self.p["cycle"][index]), float(self.p["split"][index])]

    def apply(self, index: int, command: dict[str, Any], now: float) -> bool:
        settings = command_settings(command, SETTINGS, USAGE)
        cycle = float(self.p["cycle"][index])
        split = float(self.p["split"][index])
        if "cycle" in settings:
            cycle = number_setting(settings, "cycle", *CYCLE_RANGE)
            if cycle <= self.p["lost_time"][index] + 4:
                from citylab.errors import ContractError

                raise ContractError(f"'cycle' {cycle:g} s leaves no green after the lost time", kind="command")
        if "split" in settings:
            split = number_setting(settings, "split", *SPLIT_RANGE)
        if (cycle, split) == (float(self.p["cycle"][index]), float(self.p["split"][index])):
            return False
        # The new plan starts a fresh cycle at once (main approach green).
        self.p["cycle"][index], self.p["split"][index] = cycle, split
        self.cycle_start[index] = now
        self._plans[index].append([now, cycle, split])
        return True

    def truth(self) -> dict[str, dict[str, Any]]:
        hours = max(self._elapsed, 1e-9)
        out = {}
        for i, device in enumerate(self.ids):
            arrivals = self.arrivals[i]
            delay = np.divide(self.area[i], arrivals, out=np.zeros(2), where=arrivals > 0)
            out[device] = {
                "mean_delay_main_s": round(float(delay[0]), 3),
                "mean_delay_side_s": round(float(delay[1]), 3),
                "mean_delay_s": round(float(self.area[i].sum() / max(arrivals.sum(), 1)), 3),
                "mean_queue_main": round(float(self.area[i, 0] / hours), 3),
                "mean_queue_side": round(float(self.area[i, 1] / hours), 3),
                "arrivals_main": int(arrivals[0]),
                "arrivals_side": int(arrivals[1]),
                "plans": [list(plan) for plan in self._plans[i]],
            }
        return out


def _overlap(start: np.ndarray, end: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(end, b) - np.maximum(start, a), 0.0)


def webster_delay(cycle: float, green: float, arrivals_per_s: float, saturation_per_s: float) -> float:
    """Webster's (1958) mean delay per vehicle at a fixed-time signal, in seconds.

    ``green`` is the effective green; x = q c / (s g) must stay below 1.
    """
    lam = green / cycle
    q = arrivals_per_s
    x = q / (saturation_per_s * lam)
    uniform = cycle * (1 - lam) ** 2 / (2 * (1 - lam * x))
    random = x * x / (2 * q * (1 - x))
    correction = 0.65 * (cycle / q**2) ** (1 / 3) * x ** (2 + 5 * lam)
    return uniform + random - correction

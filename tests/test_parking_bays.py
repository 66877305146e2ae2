"""One parking bay under one ultrasonic sensor (``parking_bay``): its physics and its ground truth.

Each test builds a city of many identical bays, runs it as fast as possible,
and compares what the sensors said with the occupancy timeline the run
reports as ground truth (``kpis()["devices"][bay]["timeline"]``), and that
timeline with the renewal-process formula it should follow.
"""

from __future__ import annotations

import bisect
import json
from typing import Any

import pytest

from citylab.contract import validate_message
from simulator import Simulation
from simulator.city import City, parse_city
from simulator.devices.parking import CAR_HEIGHT_RANGE_M, MANOEUVRE_S, MAX_RANGE_M, MIN_GAP_S, PASS_S

HEADER = {"name": "Bays", "latitude": 40.64, "longitude": 22.94, "timezone": "Europe/Athens",
          "epoch": "2025-01-06T08:00:00"}
BAY = {"type": "parking_bay", "district": "lot-a", "x": [0, 50], "y": [0, 50], "interval": 30, "depth_m": 2.5,
       "arrivals_per_hour": 4, "mean_stay_min": 20, "passers_per_hour": 90, "echo_loss": 0.05,
       "follows_clock": False}


def bays(count: int, **params: Any) -> City:
    return parse_city({**HEADER, "generate": [{**BAY, "count": count, "prefix": "bay-", **params}]}, "bays.toml")


def run(city: City, seconds: float, seed: int = 3) -> tuple[dict[str, list[tuple[float, float]]], dict]:
    """Every bay's readings [(time, distance)] (each pack checked against the contract) and the KPIs."""
    readings: dict[str, list[tuple[float, float]]] = {}

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        message = validate_message(topic, payload)
        assert [(r.name, r.unit) for r in message.readings] == [("distance", "m")]
        reading = message.readings[0]
        readings.setdefault(reading.device, []).append((reading.time, float(reading.value)))

    simulation = Simulation(city, "lab", seed, 0, publish=publish)
    simulation.run(seconds)
    return readings, simulation.kpis()


def test_the_timeline_alternates_and_spans_the_run() -> None:
    readings, kpis = run(bays(20), 6 * 3600)
    start = kpis["epoch"]
    for bay, row in ((b, kpis["devices"][b]) for b in readings):
        timeline = row["timeline"]
        assert timeline[0][0] == start  # the state at the start, then every change
        states = [v for _, v in timeline]
        assert all(a != b for a, b in zip(states, states[1:])), bay
        times = [t for t, _ in timeline]
        assert times == sorted(times) and times[-1] <= start + 6 * 3600
        assert row["arrivals"] == sum(1 for a, b in zip(states, states[1:]) if b == 1)
        # A stay lasts at least the two manoeuvres; a freed bay waits at least MIN_GAP_S.
        for (t0, v0), (t1, _) in zip(timeline[1:], timeline[2:]):
            assert t1 - t0 >= (2 * MANOEUVRE_S if v0 else MIN_GAP_S) - 1e-6


def test_a_bay_is_taken_the_share_of_time_the_renewal_formula_gives() -> None:
    # Taken for 2 x 45 s + Exp(20 min), free for 60 s + Exp(1 / rate): share = stay / (stay + gap).
    # The readings do not matter here: one every 10 minutes, not checked.
    simulation = Simulation(bays(100, interval=600), "lab", 5, 0, publish_batch=lambda batch: None)
    simulation.run(24 * 3600)
    kpis = simulation.kpis()
    stay, gap = 2 * MANOEUVRE_S + 20 * 60, MIN_GAP_S + 3600 / 4
    taken = total = 0.0
    end = kpis["epoch"] + kpis["simulated_s"]
    for row in kpis["devices"].values():
        timeline = row["timeline"]
        for (t0, v), t1 in zip(timeline, [t for t, _ in timeline[1:]] + [end]):
            taken += v * (t1 - t0)
            total += t1 - t0
    assert taken / total == pytest.approx(stay / (stay + gap), abs=0.02)


def test_the_sensor_sees_roofs_floors_walkers_and_lost_echoes_in_their_proportions() -> None:
    readings, kpis = run(bays(60, sensor={"noise": 1.0}), 12 * 3600)
    roofs, floors, lost, walkers, parked_n, empty_n = [], [], 0, 0, 0, 0
    # The timeline holds the changes up to the last reading; a car may be leaving just after it.
    last = max(t for series in readings.values() for t, _ in series)
    for bay, series in readings.items():
        timeline = kpis["devices"][bay]["timeline"]
        times = [t for t, _ in timeline]
        for t, distance in series:
            i = bisect.bisect_right(times, t) - 1
            previous, following = times[i], times[i + 1] if i + 1 < len(times) else last + MANOEUVRE_S
            if t - previous < MANOEUVRE_S + 1 or following - t < MANOEUVRE_S + 1:
                continue  # a car half in the bay: anything from roof to floor
            if timeline[i][1]:
                parked_n += 1
                if distance >= MAX_RANGE_M - 0.1:
                    lost += 1
                else:
                    roofs.append(distance)
            else:
                empty_n += 1
                if distance < 2.2:
                    walkers += 1
                else:
                    floors.append(distance)
    low, high = 2.5 - CAR_HEIGHT_RANGE_M[1], 2.5 - CAR_HEIGHT_RANGE_M[0]
    assert min(roofs) > low - 0.25 and max(roofs) < high + 0.25
    assert sum(roofs) / len(roofs) == pytest.approx((low + high) / 2, abs=0.03)
    assert sum(floors) / len(floors) == pytest.approx(2.5, abs=0.005)
    assert max(floors) - min(floors) < 0.25  # a few centimetres of noise, no more
    assert lost / parked_n == pytest.approx(0.05, abs=0.01)
    assert walkers / empty_n == pytest.approx(1 - pow(2.718281828, -90 * PASS_S / 3600), abs=0.01)


def test_the_same_seed_gives_the_same_bays_and_another_does_not() -> None:
    first, kpis = run(bays(5), 3600, seed=11)
    again, kpis_again = run(bays(5), 3600, seed=11)
    other, _ = run(bays(5), 3600, seed=12)
    assert first == again and kpis["devices"] == kpis_again["devices"]
    assert first != other


def test_the_lab_city_loads_and_its_truth_is_json() -> None:
    from labs import get_lab

    lab = get_lab("04-smart-parking")
    city_file = lab.folder / lab.scenario
    from simulator import load_city

    city = load_city(city_file)
    assert {d.district for d in city.devices} == {"lot-a", "lot-b"}
    assert all(d.type == "parking_bay" and d.interval == 60 for d in city.devices)
    readings, kpis = run(city, 1800)
    assert len(readings) == len(city.devices)
    json.dumps(kpis)  # the grader hands the KPIs around as JSON

"""The simulator's physics against the textbook: Erlang B, Webster's delay, the sun.

Each test builds a city of many identical devices (so one run pools many
independent samples), runs it as fast as possible and compares the ground
truth the run reports with the formula.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from simulator import Simulation
from simulator.city import City, parse_city
from simulator.devices.parking import erlang_b
from simulator.devices.traffic import webster_delay
from simulator.sun import clear_sky_illuminance

HEADER = {"name": "Lab", "latitude": 40.64, "longitude": 22.94, "timezone": "Europe/Athens",
          "epoch": "2025-01-06T00:00:00"}


def city_of(*generate: dict, **header: object) -> City:
    tables = [{"district": "lab", "x": [0, 50], "y": [0, 50], **table} for table in generate]
    return parse_city({**HEADER, **header, "generate": tables}, "lab.toml")


def truth(city: City, seconds: float, seed: int = 1) -> dict:
    simulation = Simulation(city, "lab", seed, 0, publish_batch=lambda batch: None)
    simulation.run(seconds)
    return simulation.kpis()["devices"]


@pytest.mark.parametrize(("spaces", "offered"), [(10, 8.0), (5, 2.0)])
def test_a_full_lot_turns_away_what_erlang_b_predicts(spaces: int, offered: float) -> None:
    # Constant demand (no clock), exponential stays of 6 minutes: offered load = rate x stay.
    stay_h = 0.1
    lots = truth(city_of({"type": "parking", "count": 20, "prefix": "lot-", "interval": 300, "spaces": spaces,
                          "arrivals_per_hour": offered / stay_h, "mean_stay_min": stay_h * 60,
                          "follows_clock": False}), 150 * 3600)
    arrivals = sum(lot["arrivals"] for lot in lots.values())
    turned_away = sum(lot["turned_away"] for lot in lots.values())
    expected = erlang_b(spaces, offered)
    assert arrivals > 50_000
    assert turned_away / arrivals == pytest.approx(expected, rel=0.04), (turned_away / arrivals, expected)
    # Carried load = offered x (1 - B): the mean number of cars parked.
    occupied = sum(lot["mean_occupied"] for lot in lots.values()) / len(lots)
    assert occupied == pytest.approx(offered * (1 - expected), rel=0.04)


def test_erlang_b_formula_matches_its_textbook_values() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(10, 8.0) == pytest.approx(0.1217, abs=1e-4)
    assert erlang_b(5, 2.0) == pytest.approx(0.0367, abs=1e-4)


DEGREES = (0.3, 0.5, 0.7, 0.85)
CYCLE, LOST, SATURATION = 60.0, 8.0, 1800.0
GREEN = (CYCLE - LOST) / 2


def test_signal_delay_agrees_with_webster_up_to_x_085() -> None:
    tables = []
    for x in DEGREES:
        q = x * SATURATION * GREEN / CYCLE
        tables.append({"type": "traffic", "count": 40, "prefix": f"x{int(x * 100)}-", "interval": 60,
                       "main_per_hour": q, "side_per_hour": q, "cycle": CYCLE, "split": 0.5,
                       "lost_time": LOST, "saturation_per_hour": SATURATION, "follows_clock": False})
    signals = truth(city_of(*tables), 4 * 3600)
    for x in DEGREES:
        q = x * SATURATION * GREEN / CYCLE
        group = [s for device, s in signals.items() if device.startswith(f"x{int(x * 100)}-")]
        delay_area = sum(s["mean_delay_main_s"] * s["arrivals_main"] + s["mean_delay_side_s"] * s["arrivals_side"]
                         for s in group)
        vehicles = sum(s["arrivals_main"] + s["arrivals_side"] for s in group)
        expected = webster_delay(CYCLE, GREEN, q / 3600, SATURATION / 3600)
        assert delay_area / vehicles == pytest.approx(expected, rel=0.15), (x, delay_area / vehicles, expected)


def test_webster_formula_grows_without_bound_near_saturation() -> None:
    low = webster_delay(60, 26, 0.05, 0.5)
    high = webster_delay(60, 26, 0.2, 0.5)
    assert 0 < low < high
    # The uniform term alone at light traffic: c (1 - g/c)^2 / 2.
    assert webster_delay(60, 26, 1e-3, 0.5) == pytest.approx(60 * (1 - 26 / 60) ** 2 / 2, rel=0.02)


def cooper_noon_elevation(latitude: float, day_of_year: int) -> float:
    """The textbook noon elevation: 90 - latitude + Cooper's declination."""
    declination = 23.45 * math.sin(math.radians(360 / 365 * (284 + day_of_year)))
    return 90 - abs(latitude - declination)


@pytest.mark.parametrize("latitude", [40.64, -33.9])
def test_noon_illuminance_follows_the_sun_across_the_seasons(latitude: float) -> None:
    # A clear sky, a station at the city centre, one reading at each month's 21st solar noon.
    longitude = 22.94 if latitude > 0 else 18.4
    city = parse_city({"name": "Sun", "latitude": latitude, "longitude": longitude,
                       "devices": [{"id": "wx", "type": "weather", "district": "lab", "x": 0, "y": 0,
                                    "interval": 60, "cloudiness": 0.0}]}, "sun.toml")
    readings = []
    for month in range(1, 13):
        day = datetime(2025, month, 21, tzinfo=timezone.utc)
        noon = day + timedelta(hours=12 - longitude / 15)
        out: list = []
        Simulation(city, "lab", 1, 0, lambda t, p, r: out.append(p), epoch=noon.timestamp()).run(1)
        import json

        lux = next(r["v"] for r in json.loads(out[0]) if r["n"] == "illuminance")
        expected = clear_sky_illuminance(cooper_noon_elevation(latitude, day.timetuple().tm_yday))
        # The model's 2 % cloud-free flicker and a few minutes of equation of time: within 8 %.
        assert lux == pytest.approx(expected, rel=0.08), (month, lux, expected)
        readings.append(lux)
    june, december = readings[5], readings[11]
    # Summer is brighter, in each hemisphere its own summer.
    assert (june > 1.3 * december) if latitude > 0 else (december > 1.3 * june)

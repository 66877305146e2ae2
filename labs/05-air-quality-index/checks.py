"""Checks of lab 05: 10 points, one aspect of the air quality index per check.

Each check judges one step on the trainee's own numbers, so one mistake
costs the points of that step and no others: the bands are checked against
the running means the program reported (right or wrong), the index against
its own bands, the alerts against its own index. ``run.truth`` is what the
dataset generator computed from the same file (labs/engine/analysis.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from labs.engine import AnalysisRun

TOLERANCE = 0.05  # ug/m3: rounding to 0.1 is fine
PM = {"pm2_5": ("pm2_5_24h", "PM2.5"), "pm10": ("pm10_24h", "PM10")}
LABELS = {"pm2_5": "PM2.5", "pm10": "PM10", "no2": "NO2", "o3": "O3"}


def _when(time: str) -> str:
    return time.replace("T", " ")[:16]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _hours(run: AnalysisRun) -> dict[tuple[str, str], dict[str, Any]]:
    """The answer's station-hours by (station, time); fails if there is no list of them."""
    answer = run.require_answer()
    hours = answer.get("hours")
    assert isinstance(hours, list), (
        f"the answer has no \"hours\" list (its keys: {', '.join(map(str, answer)) or 'none'}): write "
        f"{{\"hours\": [{{\"station\": ..., \"time\": ..., ...}}, ...], \"alerts\": [...]}}")
    return {(str(h.get("station")), str(h.get("time"))): h for h in hours if isinstance(h, dict)}


def _missing(run: AnalysisRun, hours: dict[tuple[str, str], dict[str, Any]]) -> str:
    missing = [key for key in run.truth["hours"] if key not in hours]
    if not missing:
        return ""
    station, time = missing[0]
    return (f"{len(missing)} of {len(run.truth['hours'])} station-hours are missing from \"hours\", such as "
            f"station {station} at {_when(time)}: give one entry per station and hour from the 24th hour of "
            f"data on, with the time written as in the input")


def _band(run: AnalysisRun, pollutant: str, value: float) -> set[int]:
    """The band of a value, or both bands when it sits within the tolerance of a bound."""
    bounds = run.truth["thresholds"][pollutant]
    return {sum(v > b for b in bounds) for v in (value - TOLERANCE, value, value + TOLERANCE)} \
        if any(abs(value - b) <= TOLERANCE for b in bounds) else {sum(value > b for b in bounds)}


def _value(run: AnalysisRun, key: tuple[str, str], entry: dict[str, Any] | None, pollutant: str) -> float:
    """The concentration the program banded: its own running mean for PM, the hour's value otherwise."""
    if pollutant in PM and entry is not None:
        own = _number(entry.get(PM[pollutant][0]))
        if own is not None:
            return own
    return run.truth["hours"][key]["value"][pollutant]


def _own_bands(run: AnalysisRun, key: tuple[str, str], entry: dict[str, Any] | None) -> dict[str, int]:
    names = run.truth["band_names"]
    bands = entry.get("bands") if entry else None
    truth = run.truth["hours"][key]["bands"]
    if not isinstance(bands, dict):
        return dict(truth)
    return {p: names.index(bands[p]) if bands.get(p) in names else truth[p] for p in truth}


def _own_index(run: AnalysisRun, key: tuple[str, str], entry: dict[str, Any] | None) -> int:
    names = run.truth["band_names"]
    index = entry.get("index") if entry else None
    return names.index(index) if index in names else run.truth["hours"][key]["index"]


@pytest.mark.points(3)
def test_running_means(run: AnalysisRun) -> None:
    """PM2.5 and PM10 as 24-hour running means"""
    hours = _hours(run)
    missing = _missing(run, hours)
    assert not missing, missing
    wrong = []
    for key, truth in run.truth["hours"].items():
        for pollutant, (field, label) in PM.items():
            given = _number(hours[key].get(field))
            if given is None or abs(given - truth["value"][pollutant]) > TOLERANCE:
                wrong.append((key, pollutant, given, truth["value"][pollutant]))
    if wrong:
        (station, time), pollutant, given, expected = wrong[0]
        field, label = PM[pollutant]
        hourly = next(r[pollutant] for r in run.rows if (r["station"], r["time"]) == (station, time))
        said = f"you gave {given:.1f} ug/m3" if given is not None else f"\"{field}\" is missing or not a number"
        hint = (" (that is the hour's own value)" if given is not None and abs(given - hourly) <= TOLERANCE
                else "")
        total = 2 * len(run.truth["hours"])
        pytest.fail(f"{len(wrong)} of {total} running means are wrong: station {station} at {_when(time)}: "
                    f"{said}{hint}, but the mean {label} of that hour and the 23 before is {expected:.1f} ug/m3")


@pytest.mark.points(3)
def test_bands_per_pollutant(run: AnalysisRun) -> None:
    """Each pollutant's band (Good to Extremely poor) from the EEA's table"""
    hours = _hours(run)
    missing = _missing(run, hours)
    assert not missing, missing
    names = run.truth["band_names"]
    wrong = []
    for key in run.truth["hours"]:
        bands = hours[key].get("bands")
        for pollutant in LABELS:
            value = _value(run, key, hours[key], pollutant)
            given = bands.get(pollutant) if isinstance(bands, dict) else None
            allowed = _band(run, pollutant, value)
            if given not in names or names.index(given) not in allowed:
                wrong.append((key, pollutant, given, value, min(allowed)))
    if wrong:
        (station, time), pollutant, given, value, expected = wrong[0]
        said = f"you gave {given}" if isinstance(given, str) else f"\"bands\" has no \"{pollutant}\""
        what = "24-h mean" if pollutant in PM else "hourly"
        total = 4 * len(run.truth["hours"])
        pytest.fail(f"{len(wrong)} of {total} bands are wrong: station {station} at {_when(time)}: {said}, "
                    f"the {what} {LABELS[pollutant]} of {value:.1f} ug/m3 is {names[expected]} "
                    f"(the names: {', '.join(names)})")


@pytest.mark.points(2)
def test_index_is_the_worst_band(run: AnalysisRun) -> None:
    """The index of a station-hour is its worst pollutant's band"""
    hours = _hours(run)
    missing = _missing(run, hours)
    assert not missing, missing
    names = run.truth["band_names"]
    wrong = []
    for key in run.truth["hours"]:
        bands = _own_bands(run, key, hours[key])
        worst = max(bands.values())
        if hours[key].get("index") != names[worst]:
            wrong.append((key, hours[key].get("index"), bands, worst))
    if wrong:
        (station, time), given, bands, worst = wrong[0]
        listed = ", ".join(f"{LABELS[p]} {names[b]}" for p, b in bands.items())
        total = len(run.truth["hours"])
        pytest.fail(f"{len(wrong)} of {total} indexes are wrong: station {station} at {_when(time)}: "
                    f"you gave {given}, but with {listed} the index is the worst of them, {names[worst]}")


@pytest.mark.points(2)
def test_alerts_on_crossings(run: AnalysisRun) -> None:
    """An alert when a station's index crosses into Poor or worse"""
    hours = _hours(run)
    answer = run.require_answer()
    alerts = answer.get("alerts")
    assert isinstance(alerts, list), "the answer has no \"alerts\" list: write \"alerts\": [] if there are none"
    given = {(str(a.get("station")), str(a.get("time"))) for a in alerts if isinstance(a, dict)}
    poor = run.truth["alert_from"]
    expected, previous, before = set(), {}, {}
    for key in run.truth["hours"]:  # in time order for each station
        station = key[0]
        index = _own_index(run, key, hours.get(key))
        if index >= poor > previous.get(station, 0):
            expected.add(key)
        before[key] = previous.get(station, 0)
        previous[station] = index
    names = run.truth["band_names"]
    extra = sorted(given - expected, key=lambda k: k[1])
    missed = sorted(expected - given, key=lambda k: k[1])
    if extra:
        station, time = extra[0]
        why = (f"the index was already {names[before[extra[0]]]} the hour before: alert when it crosses into "
               f"Poor, not for every Poor hour" if extra[0] in before and before[extra[0]] >= poor
               else "the index there is not Poor or worse, or did not cross into it")
        pytest.fail(f"{len(extra)} of your {len(given)} alerts are not crossings: station {station} at "
                    f"{_when(time)}: {why}")
    if missed:
        station, time = missed[0]
        pytest.fail(f"{len(missed)} crossings into Poor or worse have no alert: station {station} at "
                    f"{_when(time)} went from {names[before[missed[0]]]} to "
                    f"{names[_own_index(run, missed[0], hours.get(missed[0]))]}")

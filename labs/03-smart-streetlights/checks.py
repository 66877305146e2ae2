"""Checks of lab 03: 10 points, one aspect of a good street per check.

The checks read the lamps' own telemetry (dim, power, motion) as recorded,
the weather station's illuminance at the same simulated instants, and the
simulator's ground truth (the energy each lamp really used). Times in the
feedback are the city's clock, the one the trainee sees in the readings.

A lamp's level is what it really gives, from its power: a lamp switched off
with {"on": false} at dim 100 gives 0 %.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import pytest

from labs.engine.sim_lab import SimRun

DAYLIGHT_LX = 200     # clearly day: no lamp needed
DARK_LX = 10          # clearly night: every lamp needed
LIT_PERCENT = 5       # a lamp at or below this gives no useful light
DAY_LIT_PERCENT = 20  # "off or low" in daylight
BRIGHT_PERCENT = 50   # enough for someone walking by
# The controller's first minutes: the lamps start at 100 % when the city does.
GRACE_S = 120
DAYLIGHT_TOLERANCE = 0.10  # share of daylight readings a lamp may be lit (clouds at the edges)
DARK_TOLERANCE = 0.05      # share of night readings a lamp may be off
# Energy saved against always-on. 45 %, not 40 % as with the 2.5-hour
# window: in 2 hours (18:15 to 20:15) the daylight minutes are a bigger share,
# and switching off in daylight alone (wrong/full_at_night.py) saves 39.5 to
# 39.8 % over five sites, while the reference, dimming at night, saves 57 to
# 62 %: 45 % keeps 5 points below it and 12 above it for a lagging controller.
MIN_SAVED = 0.45
# Motion while the lamp is dim must be answered within this. A controller
# answers in one reading (60 s); the rest is room for the grader's own lag:
# at 900 times real speed, 0.2 s of a busy machine is 3 simulated minutes.
OCCUPIED_DARK_S = 300


@dataclass(frozen=True)
class Reading:
    time: float
    level: float  # % of rated light the lamp gives
    dim: float
    motion: bool
    lux: float | None  # the weather station's illuminance at that instant


def _lamps(run: SimRun) -> list[str]:
    assert run.city is not None
    return [d.id for d in run.city.devices if d.type == "streetlight"]


def _station(run: SimRun) -> str:
    assert run.city is not None
    return next(d.id for d in run.city.devices if d.type == "weather")


def _illuminance(run: SimRun) -> tuple[list[float], list[float]]:
    rows = run.readings(_station(run), "illuminance")
    return [r["time"] for r in rows], [float(r["value"]) for r in rows]


def _readings(run: SimRun, lamp: str) -> list[Reading]:
    assert run.city is not None
    params = run.city.device(lamp).params
    rated, standby = float(params["rated_power_w"]), float(params["standby_power_w"])
    times, lux = _illuminance(run)
    packs: dict[float, dict[str, object]] = {}
    for row in run.readings(lamp):
        packs.setdefault(row["time"], {})[row["name"]] = row["value"]
    out = []
    for t, values in sorted(packs.items()):
        if not {"dim", "power", "motion"} <= values.keys():
            continue
        at = bisect.bisect_right(times, t) - 1  # the station's latest reading, same instant in this city
        level = max(0.0, 100 * (float(values["power"]) - standby) / rated)  # type: ignore[arg-type]
        out.append(Reading(t, level, float(values["dim"]), bool(values["motion"]),  # type: ignore[arg-type]
                           lux[at] if at >= 0 else None))
    return out


def _street(run: SimRun) -> dict[str, list[Reading]]:
    street = {lamp: _readings(run, lamp) for lamp in _lamps(run)}
    assert any(street.values()), (
        f"no lamp telemetry was recorded in {run.ran_s:.0f} s: the city did not run "
        f"(the grader's fault, not yours: grade again)")
    return street


def _no_commands(run: SimRun) -> str:
    if run.store.commands(run.site):
        return ""
    return (f" No command arrived on any lamp's cmd topic: publish {{\"set\": {{\"dim\": 0..100}}}} to "
            f"citylab/{run.site}/lamp-1/cmd and the others.")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


@pytest.mark.points(2)
def test_off_in_daylight(run: SimRun) -> None:
    """Lamps off or low (20 % or less) in daylight"""
    street = _street(run)
    start = min(r.time for readings in street.values() for r in readings)
    worst = None
    for lamp, readings in street.items():
        day = [r for r in readings if r.lux is not None and r.lux > DAYLIGHT_LX and r.time >= start + GRACE_S]
        lit = [r for r in day if r.level > DAY_LIT_PERCENT]
        if day and len(lit) > DAYLIGHT_TOLERANCE * len(day) and (worst is None or len(lit) > len(worst[1])):
            worst = (lamp, lit, day)
    if worst:
        lamp, lit, day = worst
        first = lit[0]
        pytest.fail(f"{lamp} was lit in daylight for {len(lit)} of {len(day)} minutes, at {first.level:.0f} % "
                    f"at {run.local(first.time)} with {first.lux:.0f} lx outside: switch a lamp off "
                    f"(dim 0) while the illuminance is above about 100 lx.{_no_commands(run)}")


@pytest.mark.points(2)
def test_on_at_night(run: SimRun) -> None:
    """Every lamp on after dark"""
    street = _street(run)
    worst = None
    for lamp, readings in street.items():
        night = [r for r in readings if r.lux is not None and r.lux < DARK_LX]
        off = [r for r in night if r.level <= LIT_PERCENT]
        if night and len(off) > DARK_TOLERANCE * len(night) and (worst is None or len(off) > len(worst[1])):
            worst = (lamp, off, night)
    if worst:
        lamp, off, night = worst
        pytest.fail(f"{lamp} was off for {len(off)} of {len(night)} minutes of darkness (below {DARK_LX} lx), "
                    f"first at {run.local(off[0].time)}: once the illuminance drops below about 50 lx a lamp "
                    f"stays on, at a low dim level when nobody passes.{_no_commands(run)}")


@pytest.mark.points(3)
def test_energy_saved(run: SimRun) -> None:
    """At least 45 % energy saved against always-on"""
    assert run.city is not None
    hours = float(run.kpis.get("simulated_s", 0)) / 3600
    assert hours > 0.5, (f"the city ran only {hours * 60:.0f} simulated minutes, too short to measure "
                         f"energy: keep your controller running (loop forever)")
    lamps = [run.city.device(lamp) for lamp in _lamps(run)]
    # Always-on: every lamp at its rated power the whole time, plus the
    # controller's standby draw which a lamp pays whatever it does.
    baseline = sum(float(d.params["rated_power_w"]) + float(d.params["standby_power_w"]) for d in lamps) * hours
    used = sum(float(run.kpis["devices"][d.id]["energy_wh"]) for d in lamps)
    saved = 1 - used / baseline
    assert saved >= MIN_SAVED, (
        f"the street used {used:.0f} Wh in {hours:.1f} simulated hours, always-on would use {baseline:.0f} Wh: "
        f"{saved:.0%} saved, at least {MIN_SAVED:.0%} is needed. Dim a lamp to a low level while no motion "
        f"is reported near it, and bring it back up when someone passes.{_no_commands(run)}")


@pytest.mark.points(3)
def test_occupied_street_lit(run: SimRun) -> None:
    """No occupied street left dark: motion at night brings the lamp up within 5 minutes"""
    street = _street(run)
    worst = None  # (seconds, lamp, start reading, level, detections)
    for lamp, readings in street.items():
        i = 0
        while i < len(readings):
            r = readings[i]
            if not (r.motion and r.lux is not None and r.lux < DARK_LX and r.level < BRIGHT_PERCENT):
                i += 1
                continue
            # Someone passed a dim lamp: how long until it gave enough light?
            j, detections, low = i + 1, 1, r.level
            while j < len(readings) and readings[j].level < BRIGHT_PERCENT:
                detections += readings[j].motion
                low = max(low, readings[j].level)
                j += 1
            end = readings[j].time if j < len(readings) else readings[-1].time
            took = end - r.time
            if took > OCCUPIED_DARK_S and detections > 1 and (worst is None or took > worst[0]):
                worst = (took, lamp, r, low, detections)
            i = j
    if worst:
        took, lamp, first, low, detections = worst
        pytest.fail(f"{lamp} stayed at {low:.0f} % or less for {_minutes(took)} from {run.local(first.time)} "
                    f"while motion was detected {detections} times: when a lamp reports motion after dark, "
                    f"set it to at least {BRIGHT_PERCENT} % at once and hold it for a few minutes.{_no_commands(run)}")

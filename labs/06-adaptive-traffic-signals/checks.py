"""Checks of lab 06: 10 points, one aspect of a good signal controller per check.

The checks read the signals' telemetry (counts and queues) and their state
(the plan each one runs, or why it refused a command) as recorded, and the
simulator's ground truth: the mean delay per vehicle of each approach (queue
area over arrivals, Little's law).

The baseline is the same city with the same seed run again in the grader's
process with no controller, so under the city's fixed-time plan, for as
many simulated seconds as the trainee's run lasted. The vehicles' arrivals do
not depend on the plan (the model draws them from their own generator), so
both runs see the very same vehicles and the comparison is exact. It runs as
fast as it can: a few hundredths of a second.

Times in the feedback are the city's clock, the one the trainee sees in the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from labs.engine.sim_lab import SimRun
from simulator import Simulation
from simulator.devices.traffic import CYCLE_RANGE, SPLIT_RANGE

QUARTER_S = 900
MIN_CHANGED_QUARTERS = 0.5  # share of the quarter hours in which each signal's plan must change
SHARE_TOLERANCE = 0.20      # the main approach's green share against its share of the vehicles
MIN_VEHICLES = 20           # a quarter hour with fewer arrivals says nothing about the shares
MIN_IMPROVEMENT = 0.10      # mean delay against the fixed-time plan
STARVED_S = 120             # mean delay per vehicle on one approach
MIN_MORNING_S = 3600        # a shorter run (the program ended early) cannot be judged
APPROACHES = {"main": "the avenue (main approach)", "side": "the side road"}


@dataclass(frozen=True)
class Plan:
    since: float
    cycle: float
    split: float


def _signals(run: SimRun) -> list[str]:
    assert run.city is not None
    return [d.id for d in run.city.devices if d.type == "traffic"]


def _by_time(run: SimRun, device: str, channel: str) -> list[tuple[float, dict[str, Any]]]:
    rows = run.store.readings(run.site, device, channel=channel, limit=1_000_000)
    packs: dict[float, dict[str, Any]] = {}
    for row in rows:
        packs.setdefault(row["time"], {})[row["name"]] = row["value"]
    return sorted(packs.items())


def _telemetry(run: SimRun, signal: str) -> list[tuple[float, dict[str, Any]]]:
    needed = {"vehicles_main", "vehicles_side", "queue_main", "queue_side"}
    return [(t, v) for t, v in _by_time(run, signal, "telemetry") if needed <= v.keys()]


def _plans(run: SimRun, signal: str) -> list[Plan]:
    """The plans the signal ran, from the simulator's truth.

    Not from its state topic: two commands obeyed at one simulated instant
    (cycle and split sent apart) give two state packs with one time, and a
    store keeps one reading per name and time.
    """
    plans: list[Plan] = []
    for since, cycle, split in run.kpis["devices"][signal].get("plans", []):
        plan = Plan(float(since), float(cycle), float(split))
        if plans and plans[-1].since == plan.since:
            plans[-1] = plan
        elif not plans or (plan.cycle, plan.split) != (plans[-1].cycle, plans[-1].split):
            plans.append(plan)
    return plans


def _refusals(run: SimRun) -> list[tuple[float, str, str]]:
    out = []
    for signal in _signals(run):
        out += [(t, signal, str(v["error"])) for t, v in _by_time(run, signal, "state") if "error" in v]
    return sorted(out)


def _quarters(run: SimRun) -> list[tuple[float, float]]:
    start = float(run.kpis.get("epoch", 0))
    end = start + float(run.kpis.get("simulated_s", 0))
    return [(a, min(a + QUARTER_S, end)) for a in range(int(start), int(end), QUARTER_S) if end - a >= QUARTER_S / 2]


def _split_in(plans: list[Plan], a: float, b: float) -> float:
    """The main approach's share of the green over [a, b], time-weighted across plan changes."""
    total = 0.0
    for i, plan in enumerate(plans):
        until = plans[i + 1].since if i + 1 < len(plans) else b
        overlap = min(until, b) - max(plan.since, a)
        if overlap > 0:
            total += plan.split * overlap
    return total / (b - a)


def _no_commands(run: SimRun) -> str:
    signals = set(_signals(run))
    if any(c["device"] in signals for c in run.store.commands(run.site)):
        return ""
    return (f" No command arrived on any signal's cmd topic: publish {{\"set\": {{\"cycle\": 60, \"split\": 0.6}}}} "
            f"to citylab/{run.site}/{_signals(run)[0]}/cmd and the others.")


def _mean_delay(kpis: dict[str, Any], signals: list[str]) -> float:
    """Mean delay per vehicle over every approach of the signals: total queueing time over arrivals."""
    area = arrivals = 0.0
    for signal in signals:
        row = kpis["devices"][signal]
        for approach in APPROACHES:
            area += row[f"mean_delay_{approach}_s"] * row[f"arrivals_{approach}"]
            arrivals += row[f"arrivals_{approach}"]
    return area / max(arrivals, 1)


def _morning(run: SimRun) -> float:
    """The simulated seconds the city ran; fails a check when too short to judge the controller."""
    simulated_s = float(run.kpis.get("simulated_s", 0))
    assert simulated_s >= MIN_MORNING_S, (
        f"the city ran only {simulated_s / 60:.0f} simulated minutes, too short to judge your plans: keep "
        f"your controller running (loop forever).{_no_commands(run)}")
    return simulated_s


def _fixed_plan(run: SimRun) -> dict[str, Any]:
    """The KPIs of the same city, same seed and same span with nobody touching the signals."""
    assert run.city is not None
    simulated_s = _morning(run)
    baseline = Simulation(run.city, run.site, int(run.kpis["seed"]), 0, publish_batch=lambda batch: None,
                          epoch=float(run.kpis["epoch"]))
    baseline.run(simulated_s)
    # The live run may have stopped just after the readings due at its last
    # instant, a run to that instant stops just before them: take them too.
    if _arrivals(baseline.kpis(), _signals(run)) < _arrivals(run.kpis, _signals(run)):
        baseline.run(simulated_s + 1e-3)
    return baseline.kpis()


def _arrivals(kpis: dict[str, Any], signals: list[str]) -> int:
    return sum(int(kpis["devices"][s][f"arrivals_{a}"]) for s in signals for a in APPROACHES)


@pytest.mark.points(2)
def test_commands_within_limits(run: SimRun) -> None:
    """Every plan sent is one the signals accept (cycle 30 to 180 s, split 0.1 to 0.9)"""
    signals = set(_signals(run))
    sent = [c for c in run.store.commands(run.site) if c["device"] in signals]
    assert sent, _no_commands(run).strip()
    refused = _refusals(run)
    # The simulator's count: two refusals at one instant leave one error on the state topic.
    count = max(int(run.kpis.get("rejected_commands", 0)), len(refused))
    if count:
        t, signal, reason = refused[0] if refused else (float(run.kpis["epoch"]), "a signal", "(no reason recorded)")
        pytest.fail(f"{count} of {len(sent)} commands were refused: {signal} answered \"{reason}\" at "
                    f"{run.local(t)} and kept its plan. Clamp what your formula gives: the cycle to 30..180 s "
                    f"and the split to 0.1..0.9, and watch the signals' state topic for an \"error\".")


@pytest.mark.points(2)
def test_plans_change_with_the_traffic(run: SimRun) -> None:
    """Plans change with the traffic: each signal's plan changes in at least half of the quarter hours"""
    _morning(run)
    quarters = _quarters(run)
    worst = None
    for signal in _signals(run):
        plans = _plans(run, signal)
        changed = sum(any(a <= p.since < b for p in plans[1:]) for a, b in quarters)
        if changed < MIN_CHANGED_QUARTERS * len(quarters) and (worst is None or changed < worst[1]):
            worst = (signal, changed, plans)
    if worst:
        signal, changed, plans = worst
        last = plans[-1]
        pinned = ""
        if last.split in SPLIT_RANGE or last.cycle in CYCLE_RANGE:
            pinned = (" That plan sits at a bound of the signals' range: a plan pinned there while the traffic "
                      "changes is what a queue growing without end gives (is the green going to the right "
                      "approach?).")
        pytest.fail(f"{signal}'s plan changed in only {changed} of {len(quarters)} quarter hours: it ran "
                    f"{len(plans)} plan{'s' if len(plans) != 1 else ''} all morning, the last (cycle "
                    f"{last.cycle:.0f} s, split {last.split:.2f}) from {run.local(last.since)}.{pinned} The "
                    f"traffic grows to the peak and the fair's crowd arrives at 08:00: recompute the plan from "
                    f"the counts every few minutes.{_no_commands(run)}")


@pytest.mark.points(2)
def test_green_follows_the_demand(run: SimRun) -> None:
    """Green shared as the traffic is: the avenue's share of the green within 20 points of its share of the vehicles"""
    _morning(run)
    worst = None  # (gap, signal, quarter start, vehicle share, green share)
    for signal in _signals(run):
        plans = _plans(run, signal)
        rows = _telemetry(run, signal)
        if not plans or not rows:
            continue
        for a, b in _quarters(run):
            inside = [(t, v) for t, v in rows if a <= t < b]
            if len(inside) < 2:
                continue
            first, last = inside[0][1], inside[-1][1]
            # Arrived = crossed the stop line + the queue's growth.
            main = sum(v["vehicles_main"] for _, v in inside[1:]) + last["queue_main"] - first["queue_main"]
            side = sum(v["vehicles_side"] for _, v in inside[1:]) + last["queue_side"] - first["queue_side"]
            if main + side < MIN_VEHICLES:
                continue
            share = max(main, 0) / max(main + side, 1)
            green = _split_in(plans, a, b)
            gap = abs(green - share)
            if gap > SHARE_TOLERANCE and (worst is None or gap > worst[0]):
                worst = (gap, signal, a, b, share, green)
    if worst:
        _, signal, a, b, share, green = worst
        pytest.fail(f"from {run.local(a)} to {run.local(b)} the avenue brought {share:.0%} of {signal}'s vehicles "
                    f"but got {green:.0%} of the green (the side road {1 - share:.0%} and {1 - green:.0%}). "
                    f"'split' is the main approach's share of the green: give each approach green in proportion "
                    f"to its flow ratio, split = y_main / (y_main + y_side).{_no_commands(run)}")


@pytest.mark.points(3)
def test_delay_lower_than_the_fixed_plan(run: SimRun) -> None:
    """Mean delay per vehicle at least 10 % lower than under the city's fixed-time plan"""
    signals = _signals(run)
    yours, fixed = _mean_delay(run.kpis, signals), _mean_delay(_fixed_plan(run), signals)
    assert yours <= (1 - MIN_IMPROVEMENT) * fixed, (
        f"mean delay {yours:.0f} s per vehicle against {fixed:.0f} s for the fixed plan on the same "
        f"traffic: {_change(yours, fixed)}, at least {MIN_IMPROVEMENT:.0%} lower is needed. Give the approaches "
        f"green in proportion to their flows and lengthen the cycle as the junction fills up "
        f"(Webster: C = (1.5 L + 5) / (1 - Y)).{_no_commands(run)}")


@pytest.mark.points(1)
def test_no_approach_starved(run: SimRun) -> None:
    """No approach starved: its vehicles wait less than 2 minutes on average"""
    _morning(run)
    worst = None
    for signal in _signals(run):
        for approach, name in APPROACHES.items():
            delay = float(run.kpis["devices"][signal][f"mean_delay_{approach}_s"])
            if delay > STARVED_S and (worst is None or delay > worst[0]):
                worst = (delay, signal, approach, name)
    if worst:
        delay, signal, approach, name = worst
        fixed = float(_fixed_plan(run)["devices"][signal][f"mean_delay_{approach}_s"])
        pytest.fail(f"{name} of {signal} waited {delay:.0f} s per vehicle on average ({fixed:.0f} s under the "
                    f"fixed plan): an approach given less green than its flow needs queues without end. Keep "
                    f"each approach's degree of saturation x = q c / (s g) below about 0.9.{_no_commands(run)}")


def _change(yours: float, fixed: float) -> str:
    if abs(yours - fixed) < 0.005 * fixed:
        return "the same"
    if yours < fixed:
        return f"{1 - yours / max(fixed, 1e-9):.0%} lower"
    return f"{yours / max(fixed, 1e-9) - 1:.0%} higher"

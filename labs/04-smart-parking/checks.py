"""Checks of lab 04: 10 points, one aspect of a good parking controller per check.

The controller publishes, under its own device id, ``<bay>.occupied``
(true/false) for the bays and ``<lot>.free`` (count) for the lots, stamped
with the time of the reading they come from. The checks read those records
as recorded and compare them with the simulator's ground truth: each bay's
occupancy timeline (``kpis["devices"][bay]["timeline"]``, exact to the
second). A bay's reported state is a step function of time: the latest
report at or before an instant. Times in the feedback are the city's clock.

Accuracy and reaction time need the stamps (a pack stamped with the
computer's clock says nothing about when in the city it was decided);
flapping and the free count do not, so a wrong stamp costs only the former.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import pytest

from labs.engine.sim_lab import SimRun

# The controller's first minutes: a debounced bay is not known before a few readings.
GRACE_S = 300
# Accuracy forgives a late report up to this: reacting fast is the latency check's business.
ALLOWED_LAG_S = 600
MIN_ACCURACY = 0.85
JUDGE_EVERY_S = 60  # a bay's state is judged at this step, its reading interval
# A bay may change state at most this many times the truth's changes, plus FLAP_SLACK.
FLAP_FACTOR = 1.5
FLAP_SLACK = 4
# 90 % of the truth's changes must be reported within this. A debounce of two
# readings a minute apart, after a car's 45 s manoeuvre, takes 1 to 3 minutes.
LATENCY_S = 240
LATENCY_SHARE = 0.9
MIN_CONSISTENT = 0.95


@dataclass(frozen=True)
class Report:
    time: float      # the reading's time, as stamped by the controller
    value: object
    received: float  # when the recorder got it: the order the controller published in


def _bays(run: SimRun) -> dict[str, str]:
    """bay -> its lot (the bay's district in the city file)."""
    assert run.city is not None
    return {d.id: d.district for d in run.city.devices if d.type == "parking_bay"}


def _lots(run: SimRun) -> dict[str, list[str]]:
    lots: dict[str, list[str]] = {}
    for bay, lot in _bays(run).items():
        lots.setdefault(lot, []).append(bay)
    return lots


def _window(run: SimRun) -> tuple[float, float]:
    start = float(run.kpis.get("epoch", 0))
    return start, start + float(run.kpis.get("simulated_s", 0))


def _series(run: SimRun, suffix: str) -> dict[str, list[Report]]:
    """The controller's records named '<thing>.<suffix>', per thing, oldest first."""
    out: dict[str, list[Report]] = {}
    for row in run.readings(run.device):
        thing, _, name = str(row["name"]).rpartition(".")
        if name == suffix and thing:
            out.setdefault(thing, []).append(Report(float(row["time"]), row["value"], float(row["received"])))
    for reports in out.values():
        reports.sort(key=lambda r: r.time)
    return out


def _occupancy(run: SimRun, stamped: bool = True) -> dict[str, list[Report]]:
    """Every bay's reports; with ``stamped``, checked to carry the city's time (a clear failure otherwise).

    Only the checks that compare with the truth's times need the stamps: how
    often a bay flips and whether a lot's count adds up do not.
    """
    reports = {bay: r for bay, r in _series(run, "occupied").items() if bay in _bays(run)}
    assert reports, (
        f"no '<bay>.occupied' record arrived from {run.device} (citylab/{run.site}/{run.device}/telemetry): "
        f"publish, for each reading, a pack like [{{\"bn\": \"urn:citylab:{run.site}:{run.device}:\", \"bt\": T, "
        f"\"n\": \"bay-a1.occupied\", \"vb\": true}}, {{\"n\": \"lot-a.free\", \"u\": \"count\", \"v\": 5}}]")
    if not stamped:
        return reports
    start, end = _window(run)
    times = [r.time for rs in reports.values() for r in rs]
    inside = sum(start - 60 <= t <= end + 60 for t in times)
    assert inside >= 0.9 * len(times), (
        f"{len(times) - inside} of your {len(times)} occupancy records are stamped outside the city's afternoon "
        f"({run.local(start)} to {run.local(end)}): set each pack's 'bt' to the time of the bay reading it comes "
        f"from (the bay pack's 'bt'), not your computer's clock")
    return reports


def _truth(run: SimRun, bay: str) -> tuple[list[float], list[bool]]:
    timeline = run.kpis["devices"][bay]["timeline"]
    return [float(t) for t, _ in timeline], [bool(v) for _, v in timeline]


def _state_at(times: list[float], values: list[object], t: float) -> object:
    i = bisect.bisect_right(times, t) - 1
    return values[i] if i >= 0 else None


def _instants(run: SimRun) -> list[float]:
    """The instants a bay is judged at: every JUDGE_EVERY_S of the window after the grace."""
    start, end = _window(run)
    return [float(t) for t in range(int(start + GRACE_S), int(end), JUDGE_EVERY_S)]


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _changes(values: list[bool]) -> int:
    return sum(1 for a, b in zip(values, values[1:]) if a != b)


@pytest.mark.points(1)
def test_publishes_occupancy_of_every_bay(run: SimRun) -> None:
    """Valid packs with every bay's occupancy"""
    refused = run.dead_letters(topic=run.topic("telemetry"))
    packs = len(run.packs())
    assert len(refused) <= 0.01 * max(packs, 1), (
        f"{len(refused)} of your {packs} packs were refused: {refused[0]['reason']}")
    reports = _occupancy(run)
    missing = sorted(set(_bays(run)) - set(reports))
    assert not missing, (
        f"no occupancy was published for {', '.join(missing)}: publish '<bay>.occupied' for every bay "
        f"({len(_bays(run))} in all)")


@pytest.mark.points(3)
def test_occupancy_accurate(run: SimRun) -> None:
    """Each bay's occupancy right at least 85 % of the time"""
    reports = _occupancy(run)
    worst = None
    for bay in sorted(_bays(run)):
        times, truth = _truth(run, bay)
        mine = reports.get(bay, [])
        my_times, my_values = [r.time for r in mine], [bool(r.value) for r in mine]
        instants = _instants(run)
        wrong = []
        for t in instants:
            said = _state_at(my_times, my_values, t)  # type: ignore[arg-type]
            # Right if the truth was that state at some moment of the last ALLOWED_LAG_S.
            first = max(0, bisect.bisect_right(times, t - ALLOWED_LAG_S) - 1)
            last = bisect.bisect_right(times, t)
            if said is None or said not in truth[first:last]:
                wrong.append(t)
        share = 1 - len(wrong) / max(len(instants), 1)
        if share < MIN_ACCURACY and (worst is None or share < worst[1]):
            worst = (bay, share, wrong, times, truth)
    if worst:
        bay, share, wrong, times, truth = worst
        since, minutes = _longest_stretch(wrong)
        said = _state_at([r.time for r in reports.get(bay, [])], [r.value for r in reports.get(bay, [])], since)
        really = "taken" if _state_at(times, truth, since) else "free"  # type: ignore[arg-type]
        you = "nothing" if said is None else ("taken" if said else "free")
        pytest.fail(f"{bay} was right only {share:.0%} of the time (at least {MIN_ACCURACY:.0%} is needed): from "
                    f"{run.local(since)}, for {minutes:.0f} min, you said {you} while it was {really}. A car's roof "
                    f"is 0.55 to 1.15 m below the sensor, the floor 2.5 m; a reading of 4 m is a lost echo, "
                    f"not a free bay.")


def _longest_stretch(instants: list[float]) -> tuple[float, float]:
    """The start and length (minutes) of the longest run of consecutive judged instants."""
    best_start, best_n, start, n = instants[0], 1, instants[0], 1
    for a, b in zip(instants, instants[1:]):
        start, n = (start, n + 1) if b - a <= JUDGE_EVERY_S else (b, 1)
        if n > best_n:
            best_start, best_n = start, n
    return best_start, best_n * JUDGE_EVERY_S / 60


@pytest.mark.points(2)
def test_no_flapping(run: SimRun) -> None:
    """No flapping: a bay changes state not many more times than it really does"""
    reports = _occupancy(run, stamped=False)
    worst = None
    for bay, mine in sorted(reports.items()):
        _, truth = _truth(run, bay)
        mine_changes, true_changes = _changes([bool(r.value) for r in mine]), _changes(truth)
        if mine_changes > FLAP_FACTOR * true_changes + FLAP_SLACK and (worst is None or mine_changes > worst[1]):
            worst = (bay, mine_changes, true_changes)
    if worst:
        bay, mine_changes, true_changes = worst
        minutes = (_window(run)[1] - _window(run)[0]) / 60
        pytest.fail(f"{bay} flipped {_times(mine_changes)} in {minutes:.0f} min while the truth changed "
                    f"{_times(true_changes)}: one reading is not a car. Use two thresholds (hysteresis) and "
                    f"change a bay's state only after a few readings in a row agree (debounce).")


@pytest.mark.points(2)
def test_free_count_per_lot(run: SimRun) -> None:
    """Every lot's free count equals its bays you report free"""
    reports = _occupancy(run, stamped=False)
    counts = _series(run, "free")
    for lot, bays in sorted(_lots(run).items()):
        mine = counts.get(lot)
        assert mine, (f"no free count was published for {lot}: add '{lot}.free' (unit 'count') to your packs, "
                      f"the number of its {len(bays)} bays ({', '.join(sorted(bays))}) you report free")
        # In the order the controller published: a count and the bay state beside it in one pack arrive together.
        bay_series = {b: ([r.received for r in sorted(reports.get(b, []), key=lambda r: r.received)],
                          [r.value for r in sorted(reports.get(b, []), key=lambda r: r.received)]) for b in bays}
        judged, wrong = 0, []
        for count in mine:
            states = [_state_at(times, values, count.received) for times, values in bay_series.values()]
            if None in states:
                continue  # a bay of the lot not reported yet: nothing to compare with
            judged += 1
            free = sum(1 for s in states if not s)
            if not isinstance(count.value, (int, float)) or isinstance(count.value, bool) or count.value != free:
                wrong.append((count, free))
        assert judged, f"{lot}'s free count was never published while all its bays had a state"
        if len(wrong) > (1 - MIN_CONSISTENT) * judged:
            count, free = wrong[0]
            pytest.fail(f"{lot}'s free count was wrong {len(wrong)} of {judged} times: at {run.local(count.time)} "
                        f"you said {count.value:g} while you reported {free} of its {len(bays)} bays free. Count "
                        f"the free bays of each lot separately ({lot}: {', '.join(sorted(bays))}).")


@pytest.mark.points(2)
def test_reacts_within_4_minutes(run: SimRun) -> None:
    """A car arriving or leaving is reported within 4 minutes (90 % of the changes)"""
    reports = _occupancy(run)
    start, end = _window(run)
    # A controller a little behind the city when the window closes has not
    # read the last readings yet: judge only what it had read (its latest stamp).
    end = min(end, max(r.time for mine in reports.values() for r in mine))
    delays: list[tuple[float, str, float]] = []
    for bay in sorted(_bays(run)):
        times, truth = _truth(run, bay)
        mine = reports.get(bay, [])
        for i in range(1, len(times)):
            at, now = times[i], truth[i]
            lasts = (times[i + 1] if i + 1 < len(times) else end) - at
            # Judge changes the controller can see: after the grace, lasting, not at the very end.
            if at < start + GRACE_S or lasts < LATENCY_S or at > end - LATENCY_S:
                continue
            before = _state_at([r.time for r in mine], [bool(r.value) for r in mine], at)
            seen = at if before == now else next((r.time for r in mine if r.time >= at and bool(r.value) == now),
                                                 None)
            delays.append(((seen if seen is not None else end) - at, bay, at))
    assert delays, "no car arrived or left in the afternoon: nothing to time (the grader's fault: grade again)"
    delays.sort()
    share = sum(1 for d, _, _ in delays if d <= LATENCY_S) / len(delays)
    if share < LATENCY_SHARE:
        worst = delays[-1]
        pytest.fail(f"only {share:.0%} of {len(delays)} arrivals and departures were reported within "
                    f"{LATENCY_S // 60} minutes (at least {LATENCY_SHARE:.0%} are needed); {worst[1]} changed at "
                    f"{run.local(worst[2])} and you said so {worst[0] / 60:.0f} min later. Confirm a change over a "
                    f"few readings (about a minute or two), not over many minutes of averages.")

"""Lab 06 (adaptive traffic signals), proven both ways, and the signal model it rests on.

The reference controller (Webster's plan from the counts) must score full
marks against the seeded avenue; each known-wrong controller must lose
exactly the points of its mistake, with feedback that names the signal, the
time and the fix. The gradings run one at a time (the city runs at 900
times real speed, and a controller starved of CPU lags by simulated
minutes), so the file takes about six gradings' time, some 90 s.

The model tests are fast: the per-approach counts, the side-only events, and
the premise of the grader's baseline, that the vehicles' arrivals do not
depend on the plan, so the fixed-time run sees the very same vehicles.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pytest

from citylab.contract import build_command, validate_message
from labs import GradeResult, get_lab, grade, list_labs
from simulator import Simulation, load_city
from simulator.city import parse_city

LAB = get_lab("06-adaptive-traffic-signals")
WRONG = LAB.folder / "wrong"
ALL = {"test_commands_within_limits": 2, "test_plans_change_with_the_traffic": 2,
       "test_green_follows_the_demand": 2, "test_delay_lower_than_the_fixed_plan": 3,
       "test_no_approach_starved": 1}
CRASH = "raise RuntimeError('no signals found')\n"
EPOCH = datetime(2024, 10, 16, 6, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    crash = tmp_path_factory.mktemp("lab06") / "crash.py"
    crash.write_text(CRASH)
    jobs = {
        "reference": ("lab06-ref", LAB.solution),
        # The same submission for the same site, graded again: the same morning, the same grade.
        "reference_again": ("lab06-ref", LAB.solution),
        "static_plan": ("lab06-static", WRONG / "static_plan.py"),
        "swapped_split": ("lab06-swapped", WRONG / "swapped_split.py"),
        "cycle_below_minimum": ("lab06-cycle", WRONG / "cycle_below_minimum.py"),
        "starter": ("lab06-starter", LAB.starter),
        "crash": ("lab06-crash", crash),
    }
    with ThreadPoolExecutor(1) as pool:
        futures = {name: pool.submit(grade, LAB.id, site, path) for name, (site, path) in jobs.items()}
        return {name: future.result(timeout=120) for name, future in futures.items()}


def lost(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_catalogue_lists_the_sim_lab() -> None:
    assert LAB.kind == "sim" and LAB.targets == ("sim",) and LAB.level == "advanced"
    assert LAB.solution.name == "controller.py" and LAB.starter.is_file()
    assert (LAB.folder / LAB.scenario).is_file()
    assert LAB.id in [lab.id for lab in list_labs()]
    assert len(LAB.wrong_solutions()) >= 2
    assert LAB.window_seconds <= 10


def test_reference_scores_full_marks(results: dict[str, GradeResult]) -> None:
    result = results["reference"]
    assert {c.name: c.max_points for c in result.checks} == ALL
    assert result.score == result.max_score == 10, lost(result)


def test_cycle_below_minimum_loses_the_limits_points(results: dict[str, GradeResult]) -> None:
    result = results["cycle_below_minimum"]
    failed = lost(result)
    assert set(failed) == {"test_commands_within_limits"}, failed
    assert result.score == 8
    # "11 of 120 commands were refused: tc-fair answered "'cycle' is 24, outside 30 to 180" at 07:06 ..."
    feedback = failed["test_commands_within_limits"]
    assert "commands were refused: tc-" in feedback and "outside 30 to 180" in feedback
    assert "Clamp what your formula gives" in feedback and "No command arrived" not in feedback


def test_static_plan_loses_the_adaptive_points(results: dict[str, GradeResult]) -> None:
    result = results["static_plan"]
    failed = lost(result)
    assert set(failed) == {"test_plans_change_with_the_traffic", "test_green_follows_the_demand",
                           "test_delay_lower_than_the_fixed_plan", "test_no_approach_starved"}, failed
    assert result.score == 2
    assert "it ran 2 plans all morning" in failed["test_plans_change_with_the_traffic"]
    # The fair's crowd on tc-fair's side road meets a plan made for the avenue at 07:05.
    green = failed["test_green_follows_the_demand"]
    assert "of tc-fair's vehicles but got" in green and "split = y_main / (y_main + y_side)" in green
    delay = failed["test_delay_lower_than_the_fixed_plan"]
    assert "s per vehicle against" in delay and "for the fixed plan on the same traffic" in delay
    assert "at least 10% lower is needed" in delay
    assert "the side road of tc-fair waited" in failed["test_no_approach_starved"]


def test_swapped_split_loses_the_green_points(results: dict[str, GradeResult]) -> None:
    result = results["swapped_split"]
    failed = lost(result)
    # Its plans pin at split 0.10 as the avenue's queue grows without end: they stop changing too.
    assert set(failed) == {"test_plans_change_with_the_traffic", "test_green_follows_the_demand",
                           "test_delay_lower_than_the_fixed_plan", "test_no_approach_starved"}, failed
    assert result.score == 2
    assert "sits at a bound of the signals' range" in failed["test_plans_change_with_the_traffic"]
    assert "'split' is the main approach's share of the green" in failed["test_green_follows_the_demand"]
    assert "higher, at least 10% lower is needed" in failed["test_delay_lower_than_the_fixed_plan"]
    assert "the avenue (main approach) of tc-" in failed["test_no_approach_starved"]


def test_starter_sends_nothing_and_is_told_so(results: dict[str, GradeResult]) -> None:
    result = results["starter"]
    failed = lost(result)
    assert {"test_commands_within_limits", "test_plans_change_with_the_traffic",
            "test_delay_lower_than_the_fixed_plan"} <= set(failed)
    assert all("No command arrived" in f for f in failed.values()), failed
    # Nobody touched the signals: the run is the fixed plan, to the vehicle.
    assert "against" in failed["test_delay_lower_than_the_fixed_plan"]
    assert ": the same, at least 10% lower" in failed["test_delay_lower_than_the_fixed_plan"]


def test_a_crash_gets_no_points_and_is_told_why(results: dict[str, GradeResult]) -> None:
    result = results["crash"]
    assert result.score == 0 and result.solution.crashed
    assert all("no signals found" in c.feedback for c in result.checks), lost(result)
    # A city cut short is not judged as a morning without starved approaches.
    assert "too short to judge your plans" in lost(result)["test_no_approach_starved"]


def test_two_gradings_of_one_submission_agree(results: dict[str, GradeResult]) -> None:
    first, again = results["reference"], results["reference_again"]
    assert [(c.name, c.points) for c in first.checks] == [(c.name, c.points) for c in again.checks]


# --- the signal model --------------------------------------------------------------


def city_of(*devices: dict[str, Any], events: list[dict[str, Any]] | None = None) -> Any:
    rows = [{"district": "centre", "x": 0.0, "y": 0.0, "network": "ethernet", **d} for d in devices]
    return parse_city({"name": "Signals", "latitude": 40.64, "longitude": 22.94, "devices": rows,
                       "events": events or []}, "signals.toml")


def telemetry(out: list, device: str) -> list[dict[str, Any]]:
    return [{r.name: r.value for r in validate_message(t, p).readings}
            for t, p, _ in out if t.endswith(f"/{device}/telemetry")]


def test_stop_line_counts_per_approach_add_up_to_the_departures() -> None:
    city = city_of({"id": "tc-1", "type": "traffic", "interval": 60, "main_per_hour": 900,
                    "side_per_hour": 300, "follows_clock": False})
    out: list = []
    simulation = Simulation(city, "lab", 3, 0, publish_batch=out.extend, epoch=EPOCH)
    simulation.run(2 * 3600)
    packs = telemetry(out, "tc-1")
    assert all(p["vehicles"] == p["vehicles_main"] + p["vehicles_side"] for p in packs)
    truth = simulation.kpis()["devices"]["tc-1"]
    for approach in ("main", "side"):
        crossed = sum(p[f"vehicles_{approach}"] for p in packs)
        # Arrivals = crossed + still queueing (the count floors a fraction of a vehicle).
        assert abs(crossed + packs[-1][f"queue_{approach}"] - truth[f"arrivals_{approach}"]) <= 2, approach
    assert sum(p["vehicles_main"] for p in packs) > 2 * sum(p["vehicles_side"] for p in packs)


def test_events_on_side_only_load_the_side_road_alone() -> None:
    event = {"type": "stadium", "start": 0, "duration": 7200, "intensity": 4.0}
    plain = {"type": "traffic", "interval": 60, "main_per_hour": 600, "side_per_hour": 150,
             "cycle": 60, "split": 0.5}
    city = city_of({"id": "tc-both", **plain}, {"id": "tc-side", **plain, "events_on_side_only": True},
                   events=[event])
    simulation = Simulation(city, "lab", 5, 0, publish_batch=lambda b: None, epoch=EPOCH)
    simulation.run(7200)
    both, side = (simulation.kpis()["devices"][d] for d in ("tc-both", "tc-side"))
    # The stadium multiplies both approaches of tc-both by 4, only the side road of tc-side.
    assert side["arrivals_side"] == pytest.approx(both["arrivals_side"], rel=0.1)
    assert both["arrivals_main"] == pytest.approx(4 * side["arrivals_main"], rel=0.1)


def test_the_plan_does_not_change_which_vehicles_arrive() -> None:
    city = load_city(LAB.folder / LAB.scenario)

    def morning(plans: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
        simulation = Simulation(city, "lab", 11, 0, publish_batch=lambda b: None)
        for at, plan in plans:
            simulation.run(at)
            simulation.handle_command("tc-fair", build_command(plan))
        simulation.run(7200)  # the grader's morning: 07:00 to 09:00
        return simulation.kpis()["devices"]["tc-fair"]

    fixed = morning([])
    adapted = morning([(1200, {"cycle": 40, "split": 0.8}), (3600, {"cycle": 80, "split": 0.45})])
    assert (fixed["arrivals_main"], fixed["arrivals_side"]) == (adapted["arrivals_main"], adapted["arrivals_side"])
    # The fair's crowd meets the fixed plan's 40 % of the green on the side road and queues.
    assert adapted["mean_delay_side_s"] < fixed["mean_delay_side_s"]

"""Lab 04 (smart parking), proven both ways.

The reference controller must score full marks against the seeded car
parks; each known-wrong controller must lose exactly the points of its
mistake, with feedback that names the bay or lot, the evidence and the fix;
the starter and a crash are graded, quickly, with the cause said. The
gradings run one at a time (like lab 03's: the city runs at 900 times real
speed), so the file takes about eight gradings' time, a minute and a half.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from labs import GradeResult, get_lab, grade, list_labs
from labs.engine.analysis import seed_for

LAB = get_lab("04-smart-parking")
WRONG = LAB.folder / "wrong"
ALL = {"test_publishes_occupancy_of_every_bay": 1, "test_occupancy_accurate": 3, "test_no_flapping": 2,
       "test_free_count_per_lot": 2, "test_reacts_within_4_minutes": 2}
CRASH = "raise RuntimeError('no bays found')\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    crash = tmp_path_factory.mktemp("lab04") / "crash.py"
    crash.write_text(CRASH)
    jobs = {
        "reference": ("lab04-ref", LAB.solution),
        # The same submission for the same site, graded again: the same afternoon, the same grade.
        "reference_again": ("lab04-ref", LAB.solution),
        "plain_threshold": ("lab04-plain", WRONG / "plain_threshold.py"),
        "moving_average": ("lab04-average", WRONG / "moving_average.py"),
        "one_count_for_all": ("lab04-count", WRONG / "one_count_for_all.py"),
        "wall_clock_stamps": ("lab04-clock", WRONG / "wall_clock_stamps.py"),
        "starter": ("lab04-starter", LAB.starter),
        "crash": ("lab04-crash", crash),
    }
    # One at a time: a controller starved of CPU by parallel gradings falls
    # behind the city, which is the grader's fault, not the controller's.
    with ThreadPoolExecutor(1) as pool:
        futures = {name: pool.submit(grade, LAB.id, site, path) for name, (site, path) in jobs.items()}
        return {name: future.result(timeout=180) for name, future in futures.items()}


def lost(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_catalogue_lists_the_sim_lab() -> None:
    assert LAB.kind == "sim" and LAB.targets == ("sim",)
    assert LAB.solution.name == "controller.py" and LAB.starter.is_file()
    assert (LAB.folder / LAB.scenario).is_file()
    assert LAB.id in [lab.id for lab in list_labs()]
    assert LAB.window_seconds <= 10
    assert len(LAB.wrong_solutions()) == 4


def test_reference_scores_full_marks(results: dict[str, GradeResult]) -> None:
    result = results["reference"]
    assert {c.name: c.max_points for c in result.checks} == ALL
    assert result.score == result.max_score == 10, lost(result)


def test_plain_threshold_loses_the_flapping_points(results: dict[str, GradeResult]) -> None:
    result = results["plain_threshold"]
    failed = lost(result)
    assert set(failed) == {"test_no_flapping"}, failed
    assert result.score == 8
    # "bay-b3 flipped 23 times in 120 min while the truth changed once: one reading is not a car. ..."
    feedback = failed["test_no_flapping"]
    assert feedback.startswith("bay-") and "flipped" in feedback and "while the truth changed" in feedback
    assert "hysteresis" in feedback and "debounce" in feedback


def test_moving_average_loses_the_reaction_points(results: dict[str, GradeResult]) -> None:
    result = results["moving_average"]
    failed = lost(result)
    assert set(failed) == {"test_reacts_within_4_minutes"}, failed
    assert result.score == 8
    feedback = failed["test_reacts_within_4_minutes"]
    assert "arrivals and departures were reported within 4 minutes" in feedback
    assert "you said so" in feedback and "min later" in feedback and "averages" in feedback


def test_one_count_for_all_loses_the_free_count_points(results: dict[str, GradeResult]) -> None:
    result = results["one_count_for_all"]
    failed = lost(result)
    assert set(failed) == {"test_free_count_per_lot"}, failed
    assert result.score == 8
    # "lot-a's free count was wrong 46 of 46 times: at 15:36 you said 4 while you reported 2 of its 6 bays free. ..."
    feedback = failed["test_free_count_per_lot"]
    assert feedback.startswith("lot-a's free count was wrong") and "of its 6 bays free" in feedback
    assert "bay-a1, bay-a2" in feedback


def test_wall_clock_stamps_lose_the_points_that_need_the_readings_time(results: dict[str, GradeResult]) -> None:
    result = results["wall_clock_stamps"]
    failed = lost(result)
    # Flapping and the free count do not depend on the stamps: those points stay.
    assert set(failed) == {"test_publishes_occupancy_of_every_bay", "test_occupancy_accurate",
                           "test_reacts_within_4_minutes"}, failed
    assert result.score == 4
    for feedback in failed.values():
        # The window is 2 simulated hours; the city's clock stops a wall instant after it (a minute or two).
        assert re.search(r"are stamped outside the city's afternoon \(15:30 to 17:3\d\)", feedback), feedback
        assert "the bay pack's 'bt'), not your computer's clock" in feedback


def test_starter_publishes_nothing_and_is_told_how(results: dict[str, GradeResult]) -> None:
    result = results["starter"]
    assert result.score == 0
    failed = lost(result)
    assert set(failed) == set(ALL)
    assert all("no '<bay>.occupied' record arrived from controller" in f for f in failed.values()), failed


def test_crash_is_graded_quickly_with_the_crash_said(results: dict[str, GradeResult]) -> None:
    result = results["crash"]
    assert result.score == 0
    assert result.solution.crashed
    assert any("no bays found" in c.feedback for c in result.checks if not c.passed)
    # The city stops with the program: no full window for a program that is gone.
    assert result.duration_s < 8


def test_each_site_gets_its_own_afternoon() -> None:
    assert seed_for(LAB.id, "alice") == seed_for(LAB.id, "alice") != seed_for(LAB.id, "bob")


def test_two_gradings_of_one_submission_agree(results: dict[str, GradeResult]) -> None:
    first, again = results["reference"], results["reference_again"]
    assert [(c.name, c.points) for c in first.checks] == [(c.name, c.points) for c in again.checks]

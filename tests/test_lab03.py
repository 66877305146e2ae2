"""Lab 03 (smart streetlights) and the sim-lab engine, proven both ways.

The reference controller must score full marks against the seeded city;
each known-wrong controller must lose exactly the points of its mistake,
with feedback that names the lamp, the time and the fix; a controller that
crashes is graded, quickly, with the crash said. Every grading runs once, all
three at a time in threads (one site each, the agreement run aside), so
the file takes about three gradings' time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from labs import GradeResult, get_lab, grade, list_labs
from labs.engine.analysis import seed_for

LAB = get_lab("03-smart-streetlights")
WRONG = LAB.folder / "wrong"
ALL = {"test_off_in_daylight": 2, "test_on_at_night": 2, "test_energy_saved": 3, "test_occupied_street_lit": 3}
CRASH = "raise RuntimeError('no lamps found')\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    crash = tmp_path_factory.mktemp("lab03") / "crash.py"
    crash.write_text(CRASH)
    jobs = {
        "reference": ("lab03-ref", LAB.solution),
        # The same submission for the same site, graded again: the same evening, the same grade.
        "reference_again": ("lab03-ref", LAB.solution),
        "full_at_night": ("lab03-full", WRONG / "full_at_night.py"),
        "ignores_motion": ("lab03-motion", WRONG / "ignores_motion.py"),
        "starter": ("lab03-starter", LAB.starter),
        "crash": ("lab03-crash", crash),
    }
    # One at a time: the grader runs the city at 900 times real speed, and a
    # controller starved of CPU by parallel gradings lags by simulated minutes,
    # which is the grader's fault, not the controller's (seen in CI with three).
    with ThreadPoolExecutor(1) as pool:
        futures = {name: pool.submit(grade, LAB.id, site, path) for name, (site, path) in jobs.items()}
        return {name: future.result(timeout=120) for name, future in futures.items()}


def lost(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_catalogue_lists_the_sim_lab() -> None:
    assert LAB.kind == "sim" and LAB.targets == ("sim",)
    assert LAB.solution.name == "controller.py" and LAB.starter.is_file()
    assert (LAB.folder / LAB.scenario).is_file()
    assert LAB.id in [lab.id for lab in list_labs()]
    assert len(LAB.wrong_solutions()) >= 2


def test_reference_scores_full_marks(results: dict[str, GradeResult]) -> None:
    result = results["reference"]
    assert {c.name: c.max_points for c in result.checks} == ALL
    assert result.score == result.max_score == 10, lost(result)


def test_full_at_night_loses_the_energy_points(results: dict[str, GradeResult]) -> None:
    result = results["full_at_night"]
    failed = lost(result)
    assert set(failed) == {"test_energy_saved"}, failed
    assert result.score == 7
    feedback = failed["test_energy_saved"]
    assert "always-on would use" in feedback and "at least 45% is needed" in feedback
    assert "Dim a lamp" in feedback and "No command arrived" not in feedback


def test_ignores_motion_loses_the_occupied_street_points(results: dict[str, GradeResult]) -> None:
    result = results["ignores_motion"]
    failed = lost(result)
    assert set(failed) == {"test_occupied_street_lit"}, failed
    assert result.score == 7
    # "lamp-5 stayed at 10 % or less for 89 min from 19:15 while motion was detected 9 times: ..."
    feedback = failed["test_occupied_street_lit"]
    assert "lamp-" in feedback and "stayed at 10 % or less for" in feedback and "motion was detected" in feedback
    assert "at least 50 %" in feedback


def test_starter_sends_nothing_and_is_told_so(results: dict[str, GradeResult]) -> None:
    failed = lost(results["starter"])
    assert {"test_off_in_daylight", "test_energy_saved"} <= set(failed)
    assert all("No command arrived" in f for f in failed.values()), failed


def test_crash_is_graded_quickly_with_the_crash_said(results: dict[str, GradeResult]) -> None:
    result = results["crash"]
    assert result.score < result.max_score
    assert result.solution.crashed
    assert any("no lamps found" in c.feedback for c in result.checks if not c.passed)
    # The city stops with the program: no full window for a program that is gone.
    assert result.duration_s < 8


def test_each_site_gets_its_own_evening() -> None:
    assert seed_for(LAB.id, "alice") == seed_for(LAB.id, "alice") != seed_for(LAB.id, "bob")


def test_two_gradings_of_one_submission_agree(results: dict[str, GradeResult]) -> None:
    first, again = results["reference"], results["reference_again"]
    assert [(c.name, c.points) for c in first.checks] == [(c.name, c.points) for c in again.checks]

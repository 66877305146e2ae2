"""Lab 08 (the faulty sensors of a fleet), proven both ways.

The reference solution scores full marks on several sites; each known-wrong
solution loses exactly the points of its mistake, and the feedback names
the sensors; each site gets its own fleet and the same site the same one.
"""

from __future__ import annotations

import re

import pytest

from labs import GradeResult, get_lab, grade
from labs.engine.analysis import make_dataset

LAB = get_lab("08-data-quality")
WRONG = LAB.folder / "wrong"
ALL_CHECKS = {"test_precision", "test_recall", "test_kinds"}
SITES = ("alice", "bob", "t-3")


@pytest.fixture(scope="module")
def gradings() -> dict[str, GradeResult]:
    jobs = {**{f"reference-{site}": (LAB.solution, site) for site in SITES}, "starter": (LAB.starter, "alice"),
            **{path.stem: (path, "alice") for path in LAB.wrong_solutions()}}
    return {name: grade(LAB.id, site, path) for name, (path, site) in jobs.items()}


def failed(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_the_lab_is_an_analysis_lab_in_the_catalogue() -> None:
    assert LAB.kind == "analysis" and LAB.targets == ("sim",)
    assert LAB.solution.name == "analysis.py" and LAB.starter.is_file() and len(LAB.wrong_solutions()) == 3


@pytest.mark.parametrize("site", SITES)
def test_reference_solution_scores_full_marks(gradings: dict[str, GradeResult], site: str) -> None:
    result = gradings[f"reference-{site}"]
    assert failed(result) == {}, result.render_text()
    assert (result.score, result.max_score) == (10, 10)
    assert {c.name for c in result.checks} == ALL_CHECKS
    assert result.duration_s < 10


def test_flagging_any_odd_reading_loses_exactly_the_precision(gradings: dict[str, GradeResult]) -> None:
    result = gradings["any_outlier"]
    assert set(failed(result)) == {"test_precision"}, result.render_text()
    assert result.score == 7
    feedback = failed(result)["test_precision"]
    # The evidence: the healthy sensors flagged, by name, and the precision reached.
    wrongly = re.search(r"(\d+) of the (\d+) sensors you flagged are healthy: (t-\d\d)", feedback)
    assert wrongly, feedback
    truth = make_dataset(LAB, "alice").truth
    healthy = set(truth["sensors"]) - set(truth["faults"])
    assert wrongly[3] in healthy and "(precision 0." in feedback


def test_missing_drift_loses_exactly_the_recall(gradings: dict[str, GradeResult]) -> None:
    result = gradings["no_drift"]
    assert set(failed(result)) == {"test_recall"}, result.render_text()
    assert result.score == 6
    feedback = failed(result)["test_recall"]
    faults = make_dataset(LAB, "alice").truth["faults"]
    drifting = sorted(s for s, kind in faults.items() if kind == "drift")
    assert f"you missed {', '.join(drifting)};" in feedback and "recall 0.75" in feedback


def test_one_kind_for_all_loses_exactly_the_kinds(gradings: dict[str, GradeResult]) -> None:
    result = gradings["one_kind"]
    assert set(failed(result)) == {"test_kinds"}, result.render_text()
    assert result.score == 7
    assert "you said 'outliers', but it is " in failed(result)["test_kinds"]


def test_starter_scores_zero(gradings: dict[str, GradeResult]) -> None:
    result = gradings["starter"]
    assert result.score == 0, result.render_text()
    assert failed(result)["test_precision"].startswith("you flagged no sensor")


def test_each_site_has_its_own_fleet_and_the_same_site_the_same() -> None:
    alice, again, bob = make_dataset(LAB, "alice"), make_dataset(LAB, "alice"), make_dataset(LAB, "bob")
    assert alice.rows == again.rows and alice.truth == again.truth
    assert alice.truth["faults"] != bob.truth["faults"]
    assert len(alice.truth["sensors"]) == 40 and sorted(alice.truth["faults"].values()).count("drift") == 3

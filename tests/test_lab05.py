"""Lab 05 (the European Air Quality Index), proven both ways.

The reference solution scores full marks; each known-wrong solution loses
exactly the points of its mistake, with feedback that shows the evidence;
each site gets its own dataset and the same site always the same one.
"""

from __future__ import annotations

import pytest

from labs import GradeResult, get_lab, grade
from labs.engine.analysis import make_dataset

LAB = get_lab("05-air-quality-index")
WRONG = LAB.folder / "wrong"
ALL_CHECKS = {"test_running_means", "test_bands_per_pollutant", "test_index_is_the_worst_band",
              "test_alerts_on_crossings"}


@pytest.fixture(scope="module")
def gradings() -> dict[str, GradeResult]:
    jobs = {"reference": LAB.solution, "reference-bob": LAB.solution, "starter": LAB.starter,
            **{path.stem: path for path in LAB.wrong_solutions()}}
    return {name: grade(LAB.id, "bob" if name.endswith("-bob") else "alice", path) for name, path in jobs.items()}


def failed(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_the_lab_is_an_analysis_lab_in_the_catalogue() -> None:
    assert LAB.kind == "analysis" and LAB.targets == ("sim",)
    assert LAB.solution.name == "analysis.py" and LAB.starter.is_file() and len(LAB.wrong_solutions()) == 3
    assert "ETC HE Report 2024/17" in LAB.instructions and "airindex.eea.europa.eu" in LAB.instructions


@pytest.mark.parametrize("name", ["reference", "reference-bob"])
def test_reference_solution_scores_full_marks(gradings: dict[str, GradeResult], name: str) -> None:
    result = gradings[name]
    assert failed(result) == {}, result.render_text()
    assert (result.score, result.max_score) == (10, 10)
    assert {c.name for c in result.checks} == ALL_CHECKS
    assert result.solution.returncode == 0 and result.duration_s < 10


def test_hourly_pm_loses_exactly_the_running_means(gradings: dict[str, GradeResult]) -> None:
    result = gradings["hourly_pm"]
    assert set(failed(result)) == {"test_running_means"}, result.render_text()
    assert result.score == 7
    feedback = failed(result)["test_running_means"]
    assert "(that is the hour's own value)" in feedback and "the 23 before" in feedback


def test_mean_band_loses_exactly_the_index(gradings: dict[str, GradeResult]) -> None:
    result = gradings["mean_band"]
    assert set(failed(result)) == {"test_index_is_the_worst_band"}, result.render_text()
    assert result.score == 8
    assert "the index is the worst of them" in failed(result)["test_index_is_the_worst_band"]


def test_every_poor_hour_loses_exactly_the_alerts(gradings: dict[str, GradeResult]) -> None:
    result = gradings["every_poor_hour"]
    assert set(failed(result)) == {"test_alerts_on_crossings"}, result.render_text()
    assert result.score == 8
    feedback = failed(result)["test_alerts_on_crossings"]
    assert "are not crossings" in feedback and "already Poor the hour before" in feedback


def test_starter_scores_zero_and_says_what_is_missing(gradings: dict[str, GradeResult]) -> None:
    result = gradings["starter"]
    assert result.score == 0, result.render_text()
    assert "station-hours are missing" in failed(result)["test_running_means"]


def test_each_site_has_its_own_dataset_and_the_same_site_the_same() -> None:
    alice, again, bob = make_dataset(LAB, "alice"), make_dataset(LAB, "alice"), make_dataset(LAB, "bob")
    assert alice.rows == again.rows and alice.truth == again.truth
    assert [r["pm2_5"] for r in alice.rows[:48]] != [r["pm2_5"] for r in bob.rows[:48]]
    # Every site's dataset exercises every check: crossings, and poor hours that follow them.
    for site in ("alice", "bob", "carol", "t-1"):
        truth = make_dataset(LAB, site).truth
        assert truth["alerts"]
        assert sum(h["index"] >= 3 for h in truth["hours"].values()) > len(truth["alerts"])


def test_two_gradings_of_the_same_submission_agree(gradings: dict[str, GradeResult]) -> None:
    again = grade(LAB.id, "alice", WRONG / "hourly_pm.py")
    assert [(c.name, c.points, c.feedback) for c in again.checks] == \
        [(c.name, c.points, c.feedback) for c in gradings["hourly_pm"].checks]


def test_a_value_on_a_bound_is_in_the_lower_band() -> None:
    import importlib.util
    spec = importlib.util.spec_from_file_location("lab05_dataset", LAB.dataset)
    assert spec and spec.loader
    dataset = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dataset)
    assert [dataset.band("pm2_5", v) for v in (5.0, 5.1, 15.0, 15.1, 140.0, 140.1)] == [0, 1, 1, 2, 4, 5]
    assert [dataset.band("o3", v) for v in (60.0, 100.0, 120.1, 180.1)] == [0, 1, 3, 5]

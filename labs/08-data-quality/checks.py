"""Checks of lab 08: 10 points, precision, recall and the kinds of fault, each on its own.

``run.truth["faults"]`` is what the dataset generator broke (sensor -> kind).
Precision counts what the program flagged that is not faulty, recall what it
missed; the kinds are judged on the faulty sensors it found, so a program
that finds the right sensors but names their faults wrongly loses only that.
"""

from __future__ import annotations

import pytest

from labs.engine import AnalysisRun

PRECISION = 0.8
RECALL = 0.8
KINDS_RIGHT = 0.8
KINDS = ("stuck", "drift", "outliers", "dropout")


def _flagged(run: AnalysisRun) -> dict[str, str]:
    """sensor -> the kind of fault the program gave; fails if the answer has no list of them."""
    answer = run.require_answer()
    faulty = answer.get("faulty")
    assert isinstance(faulty, list), (
        f"the answer has no \"faulty\" list (its keys: {', '.join(map(str, answer)) or 'none'}): write "
        f"{{\"faulty\": [{{\"sensor\": \"t-07\", \"fault\": \"stuck\"}}, ...]}}")
    return {str(f.get("sensor")): str(f.get("fault")) for f in faulty if isinstance(f, dict)}


def _names(sensors: list[str], most: int = 6) -> str:
    shown = ", ".join(sorted(sensors)[:most])
    return shown + (f" and {len(sensors) - most} more" if len(sensors) > most else "")


@pytest.mark.points(3)
def test_precision(run: AnalysisRun) -> None:
    """Precision: at least 80% of the sensors you flag are faulty"""
    flagged = _flagged(run)
    faults = run.truth["faults"]
    assert flagged, "you flagged no sensor: list the faulty ones in \"faulty\""
    wrong = [s for s in flagged if s not in faults]
    precision = 1 - len(wrong) / len(flagged)
    unknown = [s for s in wrong if s not in run.truth["sensors"]]
    note = f" ({_names(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the fleet)" if unknown else ""
    assert precision >= PRECISION, (
        f"{len(wrong)} of the {len(flagged)} sensors you flagged are healthy: {_names(wrong)}{note} "
        f"(precision {precision:.2f}, at least {PRECISION:.2f} needed); a healthy sensor may lose a reading "
        f"or show one glitch: a fault is a pattern, not a single odd value")


@pytest.mark.points(4)
def test_recall(run: AnalysisRun) -> None:
    """Recall: you find at least 80% of the faulty sensors"""
    flagged = _flagged(run)
    faults = run.truth["faults"]
    missed = [s for s in faults if s not in flagged]
    recall = 1 - len(missed) / len(faults)
    assert recall >= RECALL, (
        f"you found {len(faults) - len(missed)} of the {len(faults)} faulty sensors (recall {recall:.2f}, at "
        f"least {RECALL:.2f} needed): you missed {_names(missed)}; look at them again for each kind of fault "
        f"({', '.join(KINDS)})")


@pytest.mark.points(3)
def test_kinds(run: AnalysisRun) -> None:
    """The kind of fault (stuck, drift, outliers, dropout) of the faulty sensors you found"""
    flagged = _flagged(run)
    faults = run.truth["faults"]
    found = [s for s in flagged if s in faults]
    assert found, "you found none of the faulty sensors, so no kind of fault can be judged"
    wrong = sorted(s for s in found if flagged[s] != faults[s])
    right = 1 - len(wrong) / len(found)
    if right < KINDS_RIGHT:
        first = wrong[0]
        given = repr(flagged[first]) + ("" if flagged[first] in KINDS else f" (not one of {', '.join(KINDS)})")
        pytest.fail(f"of the {len(found)} faulty sensors you found, {len(wrong)} have the wrong kind of fault "
                    f"({right:.0%} right, at least {KINDS_RIGHT:.0%} needed): {first}: you said {given}, "
                    f"but it is {faults[first]}" + (f"; also {_names(wrong[1:])}" if len(wrong) > 1 else ""))

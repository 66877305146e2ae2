"""Lab 02 (serial sensor), graded both ways against the grader's kit on a pty.

The reference bridge scores 10/10 on mosquitto, on the embedded broker and
on the grader's own broker; each known-wrong bridge loses exactly the points
of its mistake, with feedback that names the mistake and shows the evidence.
All gradings run in parallel, so the file takes about one window (9 s).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from citylab.mqtt import BrokerAddress
from labs import GradeResult, get_lab, grade, list_labs
from labs.engine.serial_lab import _script

LAB = get_lab("02-serial-sensor")
WRONG = LAB.folder / "wrong"
ALL_CHECKS = {"test_telemetry_topic", "test_every_pack_once", "test_no_garbage_published",
              "test_survives_the_noise"}

# Opens nothing and publishes nothing: the grader must still end its window.
NEVER_OPENS = "import time\nwhile True:\n    time.sleep(0.1)\n"


@pytest.fixture(scope="module")
def gradings(mosquitto: BrokerAddress, embedded_broker: BrokerAddress,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, GradeResult]:
    never = tmp_path_factory.mktemp("solutions") / "never_opens.py"
    never.write_text(NEVER_OPENS)
    jobs: dict[str, tuple[Path, BrokerAddress | None]] = {
        "reference-mosquitto": (LAB.solution, mosquitto),
        "reference-embedded": (LAB.solution, embedded_broker),
        "reference-own-broker": (LAB.solution, None),
        "forwards-everything": (WRONG / "forwards_everything.py", mosquitto),
        "crash-on-bad-utf8": (WRONG / "crash_on_bad_utf8.py", mosquitto),
        "drops-partial-lines": (WRONG / "drops_partial_lines.py", mosquitto),
        "starter": (LAB.starter, mosquitto),
        "never-opens": (never, mosquitto),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(grade, LAB.id, f"t2-{name}", path, broker)
                   for name, (path, broker) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def failed(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


@pytest.mark.parametrize("name", ["reference-mosquitto", "reference-embedded", "reference-own-broker"])
def test_reference_bridge_scores_full_marks(gradings: dict[str, GradeResult], name: str) -> None:
    result = gradings[name]
    assert failed(result) == {}, result.render_text()
    assert (result.score, result.max_score) == (10, 10)
    assert {c.name for c in result.checks} == ALL_CHECKS
    assert not result.solution.ended_early and result.solution.returncode == -9


def test_forwarding_everything_loses_exactly_the_no_garbage_points(gradings: dict[str, GradeResult]) -> None:
    result = gradings["forwards-everything"]
    assert set(failed(result)) == {"test_no_garbage_published"}, result.render_text()
    assert result.score == 7
    feedback = failed(result)["test_no_garbage_published"]
    # The evidence is the first refused line: the kit's boot log.
    assert "4 messages you published were refused" in feedback and "'# boot: citylab-fw" in feedback
    assert "json.loads()" in feedback


def test_strict_decoding_loses_exactly_the_survival_points(gradings: dict[str, GradeResult]) -> None:
    result = gradings["crash-on-bad-utf8"]
    assert set(failed(result)) == {"test_survives_the_noise"}, result.render_text()
    assert result.score == 8
    assert result.solution.crashed
    feedback = failed(result)["test_survives_the_noise"]
    assert "just after the kit sent a burst of 42 random bytes" in feedback
    assert "errors='replace'" in feedback and "UnicodeDecodeError: 'utf-8' codec" in feedback
    # It died at the burst and did not make the grader sit out the window.
    assert result.duration_s < LAB.window_seconds


def test_dropping_partial_lines_loses_exactly_the_every_pack_points(gradings: dict[str, GradeResult]) -> None:
    result = gradings["drops-partial-lines"]
    assert set(failed(result)) == {"test_every_pack_once"}, result.render_text()
    assert result.score == 7
    feedback = failed(result)["test_every_pack_once"]
    # Exactly the packs that arrived in two pieces are lost, and it says so.
    split = sum(1 for kind, arg in _script(LAB, "t2-drops-partial-lines") if kind == "pack" and arg)
    assert f"{split} of the 15 valid packs the kit sent never arrived" in feedback, feedback
    assert f"{split} of them reached your program in two pieces" in feedback and "buffer" in feedback


def test_starter_is_not_a_solution(gradings: dict[str, GradeResult]) -> None:
    result = gradings["starter"]
    assert result.score == 0, result.render_text()
    assert result.solution.crashed
    assert all("TODO 1" in feedback for feedback in failed(result).values())


def test_a_program_that_never_opens_the_port_is_told_so(gradings: dict[str, GradeResult]) -> None:
    result = gradings["never-opens"]
    assert result.score == 0 and not result.solution.ended_early
    assert "never opened the serial port" in failed(result)["test_telemetry_topic"]


def test_the_kit_script_is_seeded_by_site() -> None:
    # Two gradings of one submission see the same line; two trainees different garbage.
    assert _script(LAB, "alice") == _script(LAB, "alice")
    assert _script(LAB, "alice") != _script(LAB, "bob")


def test_catalogue_lists_lab_02_as_a_serial_lab() -> None:
    assert "02-serial-sensor" in [lab.id for lab in list_labs()]
    assert LAB.kind == "serial" and LAB.device == "env-02"
    assert LAB.solution.name == LAB.starter.name == "bridge.py" and LAB.solution.is_file() and LAB.starter.is_file()
    assert len(LAB.wrong_solutions()) == 3
    assert "citylab grade 02-serial-sensor" in LAB.instructions

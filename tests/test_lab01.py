"""Lab 01 and the grading engine, proven both ways against real brokers.

The reference solution must score full marks on Mosquitto, on the embedded
broker given by address, and on the grader's own embedded broker; each
known-wrong solution must lose exactly the points of its mistake, with
feedback that names the fix. Programs that crash, hog memory or never
connect must be graded, quickly, without hanging the grader.

Every grading of this file runs once, all at the same time in threads (one
site each, so they cannot see each other's messages), which keeps the file
at about the length of one lab window.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from citylab import mqtt
from citylab.errors import LabError, UnknownLabError
from citylab.mqtt import BrokerAddress
from citylab.stores import SQLiteStore
from labs import CheckResult, Gradebook, GradeResult, Lab, SolutionInfo, get_lab, grade, list_labs
from labs.catalogue import load_lab
from labs.engine import Run
from labs.engine.plugin import evaluate

LAB = get_lab("01-mqtt-telemetry")
WRONG = LAB.folder / "wrong"
ALL_CHECKS = {"test_telemetry_topic", "test_units", "test_senml_well_formed", "test_rate",
              "test_online_retained", "test_last_will"}

# Small programs for the ways a trainee's code goes wrong before any MQTT.
CRASH = (
    "import sys\n"
    # An ANSI colour code, as some libraries print: the JUnit XML must survive it.
    "sys.stderr.write('\\x1b[31mstarting\\x1b[0m\\n')\n"
    "raise RuntimeError('sensor bus not found')\n"
)
MEMORY_HOG = "block = bytearray(2 * 1024 ** 3)\n"
# Never connects, never stops, prints a lot: must be cut off at the window's end.
SILENT_CHATTY = (
    "import itertools, time\n"
    "for i in itertools.count():\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(0.002)\n"
)


@pytest.fixture(scope="module")
def solutions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("solutions")
    files = {}
    for name, code in (("crash", CRASH), ("memory_hog", MEMORY_HOG), ("silent_chatty", SILENT_CHATTY)):
        files[name] = folder / f"{name}.py"
        files[name].write_text(code)
    # The reference without its 'online' status, to grade on a broker that
    # still holds a stale retained 'online' from an earlier run.
    online = '    client.publish(STATUS_TOPIC, "online", qos=1, retain=True)\n'
    reference = LAB.solution.read_text()
    assert reference.count(online) == 1
    files["no_online"] = folder / "no_online.py"
    files["no_online"].write_text(reference.replace(online, ""))
    return files


def publish_retained(broker: BrokerAddress, topic: str, payload: str) -> None:
    client = mqtt.make_client("test")
    mqtt.connect(client, broker)
    mqtt.wait_connected(client, broker)
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    mqtt.stop(client)


@pytest.fixture(scope="module")
def gradings(mosquitto: BrokerAddress, embedded_broker: BrokerAddress,
             solutions: dict[str, Path]) -> dict[str, GradeResult]:
    """Every grading this file checks, run in parallel: name -> result."""
    publish_retained(mosquitto, "citylab/t-stale-online/env-01/status", "online")
    jobs: dict[str, tuple[Path, BrokerAddress | None]] = {
        "reference-mosquitto": (LAB.solution, mosquitto),
        "reference-embedded": (LAB.solution, embedded_broker),
        "reference-own-broker": (LAB.solution, None),
        "wrong-unit": (WRONG / "wrong_unit.py", mosquitto),
        "no-last-will-mosquitto": (WRONG / "no_last_will.py", mosquitto),
        "no-last-will-embedded": (WRONG / "no_last_will.py", embedded_broker),
        "bad-base-name": (WRONG / "bad_base_name.py", mosquitto),
        "stale-online": (solutions["no_online"], mosquitto),
        "starter": (LAB.starter, mosquitto),
        "crash": (solutions["crash"], mosquitto),
        "memory-hog": (solutions["memory_hog"], mosquitto),
        "silent-chatty": (solutions["silent_chatty"], embedded_broker),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {name: pool.submit(grade, LAB.id, f"t-{name}", path, broker)
                   for name, (path, broker) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def failed(result: GradeResult) -> dict[str, str]:
    """Failed checks: name -> feedback."""
    return {c.name: c.feedback for c in result.checks if not c.passed}


# --- the lab, both ways ------------------------------------------------------


@pytest.mark.parametrize("name", ["reference-mosquitto", "reference-embedded", "reference-own-broker"])
def test_reference_solution_scores_full_marks(gradings: dict[str, GradeResult], name: str) -> None:
    result = gradings[name]
    assert failed(result) == {}, result.render_text()
    assert (result.score, result.max_score) == (10, 10)
    assert {c.name for c in result.checks} == ALL_CHECKS
    # It ran the whole window and was cut off, not ended by itself.
    assert not result.solution.ended_early and result.solution.returncode == -9


def test_wrong_unit_loses_exactly_the_units_points(gradings: dict[str, GradeResult]) -> None:
    result = gradings["wrong-unit"]
    assert set(failed(result)) == {"test_units"}, result.render_text()
    assert result.score == 8
    feedback = failed(result)["test_units"]
    # Every pack had it wrong, and the feedback counts them and gives the fix.
    counted = re.search(r"(\d+) of (\d+) packs used unit 'C' for temperature", feedback)
    assert counted and counted[1] == counted[2] and int(counted[1]) >= 3, feedback
    assert "write \"u\": \"Cel\"" in feedback


@pytest.mark.parametrize("name", ["no-last-will-mosquitto", "no-last-will-embedded"])
def test_no_last_will_loses_exactly_the_last_will_points(gradings: dict[str, GradeResult], name: str) -> None:
    result = gradings[name]
    assert set(failed(result)) == {"test_last_will"}, result.render_text()
    assert result.score == 8
    feedback = failed(result)["test_last_will"]
    assert "last will" in feedback and "will_set(" in feedback
    # The evidence: without a will, the broker keeps showing the stale 'online'.
    assert "still shows 'online'" in feedback


def test_bad_base_name_loses_exactly_the_well_formed_points(gradings: dict[str, GradeResult]) -> None:
    result = gradings["bad-base-name"]
    assert set(failed(result)) == {"test_senml_well_formed"}, result.render_text()
    assert result.score == 8
    assert "set 'bn' to 'urn:citylab:t-bad-base-name:env-01:'" in failed(result)["test_senml_well_formed"]


def test_a_stale_retained_online_does_not_count(gradings: dict[str, GradeResult]) -> None:
    # The broker held 'online' from before; the grader clears it, so a
    # device that never says 'online' itself loses exactly that point.
    result = gradings["stale-online"]
    assert set(failed(result)) == {"test_online_retained"}, result.render_text()
    assert "no 'online' status arrived" in failed(result)["test_online_retained"]


def test_starter_is_not_a_solution(gradings: dict[str, GradeResult]) -> None:
    result = gradings["starter"]
    assert result.score == 0, result.render_text()
    assert result.solution.crashed
    assert all("TODO 3" in feedback for feedback in failed(result).values())


# --- the engine: bounded, and never hanging ---------------------------------------


def test_crash_at_start_scores_zero_with_its_error_quoted(gradings: dict[str, GradeResult]) -> None:
    result = gradings["crash"]
    assert result.score == 0 and set(failed(result)) == ALL_CHECKS
    assert all("RuntimeError: sensor bus not found" in f for f in failed(result).values()), result.render_text()
    assert result.solution.crashed and result.solution.returncode == 1
    # The grader noticed the crash and did not sit out the window.
    assert result.duration_s < LAB.window_seconds
    assert "RuntimeError: sensor bus not found" in result.render_text()


def test_memory_is_bounded(gradings: dict[str, GradeResult]) -> None:
    result = gradings["memory-hog"]
    assert result.score == 0
    assert result.solution.error_line == "MemoryError", result.solution.stderr_tail


def test_silent_program_is_cut_off_and_its_output_bounded(gradings: dict[str, GradeResult]) -> None:
    result = gradings["silent-chatty"]
    assert result.score == 0
    assert not result.solution.ended_early and result.solution.returncode == -9
    assert result.solution.ran_s == pytest.approx(LAB.window_seconds, abs=1.5)
    # Thousands of lines were printed; the grade keeps the last 20.
    tail = result.solution.stdout_tail
    assert len(tail) == 20 and tail[-1].startswith("line ") and int(tail[-1].split()[1]) > 100
    assert "no message arrived on citylab/t-silent-chatty/env-01/telemetry" in failed(result)["test_telemetry_topic"]


def test_missing_solution_file_is_a_lab_error(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="does not exist"):
        grade(LAB.id, "alice", tmp_path / "my_device.py")


def test_unknown_lab_and_target_are_lab_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownLabError, match="no lab called 'nope': run 'citylab labs list'"):
        grade("nope", "alice", LAB.solution)
    with pytest.raises(UnknownLabError):
        get_lab("99")
    with pytest.raises(LabError, match="not on 'cloud'"):
        grade(LAB.id, "alice", LAB.solution, target="cloud")
    with pytest.raises(LabError, match="site"):
        grade(LAB.id, "Alice Smith", LAB.solution)


# --- the catalogue ------------------------------------------------------------------


def test_catalogue_finds_lab_01_by_id_and_number() -> None:
    assert "01-mqtt-telemetry" in [lab.id for lab in list_labs()]
    assert get_lab("01") == get_lab("1") == get_lab("01-mqtt-telemetry") == LAB
    assert LAB.targets == ("kit", "sim") and LAB.device == "env-01" and LAB.window_seconds <= 10
    assert "last will" in LAB.instructions and "citylab grade 01-mqtt-telemetry" in LAB.instructions
    assert LAB.solution.is_file() and LAB.starter.is_file() and len(LAB.wrong_solutions()) == 3


def test_a_broken_manifest_names_its_file_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "02-broken"
    folder.mkdir()
    (folder / "README.md").write_text("# broken\n")
    (folder / "checks.py").write_text("")
    good = (LAB.folder / "lab.toml").read_text().replace('"01-mqtt-telemetry"', '"02-broken"')
    (folder / "lab.toml").write_text(good)
    assert load_lab(folder).id == "02-broken"  # the fixture itself is sound
    (folder / "lab.toml").write_text(good.replace("window_seconds = 8", 'window_seconds = "eight"'))
    with pytest.raises(LabError, match=r"02-broken/lab\.toml: field 'window_seconds'"):
        list_labs(tmp_path)
    (folder / "lab.toml").write_text(good.replace('device = "env-01"', ""))
    with pytest.raises(LabError, match=r"lab\.toml: field 'device' is missing"):
        get_lab("02", root=tmp_path)
    (folder / "lab.toml").write_text("id = [")
    with pytest.raises(LabError, match=r"lab\.toml: is not valid TOML"):
        get_lab("02-broken", root=tmp_path)


# --- the checks' plugin, on a made-up lab --------------------------------------------

FAKE_CHECKS = """
import pytest

@pytest.mark.points(3)
def test_passes(run):
    \"\"\"Passes on {site}\"\"\"
    assert run.site == "fake"

@pytest.mark.points(2)
def test_says_what_to_fix(run):
    assert run.packs() == [], "never shown"
    assert False, f"no pack arrived from {run.device}: publish one"

@pytest.mark.points(1)
def test_bare_assert(run):
    assert 1 + 1 == 3

@pytest.mark.points(1)
def test_broken_check(run):
    {}["missing"]
"""


def fake_lab(root: Path, checks: str) -> Lab:
    folder = root / "07-fake"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("# fake\n")
    (folder / "lab.toml").write_text((LAB.folder / "lab.toml").read_text().replace('"01-mqtt-telemetry"', '"07-fake"'))
    (folder / "checks.py").write_text(checks)
    return load_lab(folder)


def fake_run(tmp_path: Path) -> Run:
    info = SolutionInfo(path="x.py", returncode=-9, ran_s=8.0, ended_early=False)
    return Run("07-fake", "fake", "env-01", SQLiteStore(tmp_path / "run.sqlite"), info, 0.0, 8.0, 8.0)


def test_plugin_turns_assertions_into_feedback_not_tracebacks(tmp_path: Path) -> None:
    lab = fake_lab(tmp_path / "labs", FAKE_CHECKS)
    results = {c.name: c for c in evaluate(lab, fake_run(tmp_path), tmp_path)}
    assert list(results) == ["test_passes", "test_says_what_to_fix", "test_bare_assert", "test_broken_check"]
    assert results["test_passes"].passed and results["test_passes"].points == 3
    assert results["test_passes"].title == "Passes on fake"
    said = results["test_says_what_to_fix"]
    assert (said.passed, said.points, said.max_points) == (False, 0, 2)
    assert said.feedback == "no pack arrived from env-01: publish one"
    assert said.title == "says what to fix"
    assert results["test_bare_assert"].feedback == "this check failed (assert 1 + 1 == 3)"
    assert "KeyError" in results["test_broken_check"].feedback
    assert "not your mistake" in results["test_broken_check"].feedback


def test_a_check_without_points_is_a_lab_error(tmp_path: Path) -> None:
    lab = fake_lab(tmp_path / "labs", "def test_no_points(run):\n    pass\n")
    with pytest.raises(LabError, match=r"test_no_points: needs @pytest.mark.points\(N\)"):
        evaluate(lab, fake_run(tmp_path), tmp_path)


# --- results out: text, JSON, JUnit XML, gradebook -------------------------------------


def test_text_has_one_line_per_check_and_the_score(gradings: dict[str, GradeResult]) -> None:
    text = gradings["wrong-unit"].render_text()
    lines = text.splitlines()
    assert sum(1 for line in lines if line.lstrip().startswith(("✓", "✗"))) == 6
    assert any(line.lstrip().startswith("✗ 0/2") and "'Cel'" in line for line in lines)
    assert lines[-1].startswith("score: 8/10")


def test_json_round_trips(gradings: dict[str, GradeResult]) -> None:
    for result in (gradings["wrong-unit"], gradings["crash"]):
        data = json.loads(json.dumps(result.to_dict()))
        assert data["score"] == result.score and len(data["checks"]) == 6
        assert GradeResult.from_dict(data) == result


def test_junit_xml_is_well_formed(gradings: dict[str, GradeResult], tmp_path: Path) -> None:
    for name in ("wrong-unit", "crash", "reference-mosquitto"):
        result = gradings[name]
        suite = ET.parse(result.to_junit(tmp_path / f"{name}.xml")).getroot().find("testsuite")
        assert suite is not None
        cases = suite.findall("testcase")
        assert len(cases) == 6 and int(suite.get("tests", "0")) == 6
        failures = [c for c in cases if c.find("failure") is not None]
        assert int(suite.get("failures", "-1")) == len(failures) == len(failed(result))
    unit_case = next(c for c in ET.parse(tmp_path / "wrong-unit.xml").iter("testcase") if c.get("name") == "test_units")
    assert "Cel" in unit_case.find("failure").get("message", "")  # type: ignore[union-attr]


def test_gradebook_keeps_the_history_of_regradings(gradings: dict[str, GradeResult], tmp_path: Path) -> None:
    path = tmp_path / "gradebook.sqlite"
    first = dataclasses.replace(gradings["wrong-unit"], site="alice")
    second = dataclasses.replace(gradings["reference-mosquitto"], site="alice")
    book = Gradebook(path)
    book.record(first)
    book.record(second)
    book.record(dataclasses.replace(second, site="bob"))
    book.record(dataclasses.replace(second, site="alice", lab_id="02-other"))
    # A fresh object on the same file: the history is on disk, in order.
    history = Gradebook(path).history("alice", LAB.id)
    assert [r.score for r in history] == [8, 10]
    assert history == [first, second]
    assert len(Gradebook(path).history("alice")) == 3
    assert Gradebook(path).history("carol") == []


def test_progress_reports_what_the_grader_is_doing(mosquitto: BrokerAddress, solutions: dict[str, Path]) -> None:
    lines: list[str] = []
    decided: list[CheckResult] = []
    started = time.monotonic()
    result = grade(LAB.id, "t-progress", solutions["crash"], mosquitto, progress=lines.append,
                   on_check=decided.append)
    assert time.monotonic() - started < LAB.window_seconds
    # Each check is reported as it is decided, and the reports are the result's checks.
    assert decided == list(result.checks) and len(decided) == 6
    assert any(line.startswith(f"running crash.py for {LAB.window_seconds:.0f} s") for line in lines), lines

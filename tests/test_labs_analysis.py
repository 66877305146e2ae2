"""The grading engine's analysis labs: bad programs are graded, never hang the grader.

A program that crashes, prints its answer instead of writing it, writes
broken JSON or never ends gets a grade of zero whose feedback says so; the
dataset's seed is stable across processes; the catalogue checks an analysis
lab's manifest. Lab 05 is the lab under test: its gradings take a fraction
of a second.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citylab.errors import LabError
from labs import GradeResult, get_lab, grade
from labs.catalogue import load_lab
from labs.engine import seed_for

LAB = get_lab("05-air-quality-index")

PROGRAMS = {
    "crash": "import sys\nsys.stderr.write('reading the file\\n')\nraise ValueError('could not convert: pm2_5')\n",
    "prints": "import json\nprint(json.dumps({'hours': [], 'alerts': []}))\n",
    "bad_json": "import os\nopen(os.environ['CITYLAB_OUTPUT'], 'w').write('{\"hours\": [1, 2,')\n",
    "a_list": "import json, os\njson.dump([1, 2], open(os.environ['CITYLAB_OUTPUT'], 'w'))\n",
    "memory_hog": "block = bytearray(2 * 1024 ** 3)\n",
    "forever": "import json, os, time\n"
               "json.dump({'hours': []}, open(os.environ['CITYLAB_OUTPUT'], 'w'))\n"
               "while True:\n    print('still thinking', flush=True)\n    time.sleep(0.01)\n",
}


def graded(tmp_path: Path, name: str) -> GradeResult:
    path = tmp_path / f"{name}.py"
    path.write_text(PROGRAMS[name])
    return grade(LAB.id, "alice", path)


def feedback(result: GradeResult) -> list[str]:
    return [c.feedback for c in result.checks if not c.passed]


def test_a_crash_is_graded_with_its_error(tmp_path: Path) -> None:
    result = graded(tmp_path, "crash")
    assert result.score == 0 and result.solution.crashed
    assert all("your program crashed after" in f and "ValueError: could not convert: pm2_5" in f
               for f in feedback(result)), result.render_text()
    assert "reading the file" in result.render_text()  # its stderr, shown under the checks


def test_an_answer_printed_instead_of_written_says_where_it_goes(tmp_path: Path) -> None:
    result = graded(tmp_path, "prints")
    assert result.score == 0
    assert all("no answer was written to the file named by CITYLAB_OUTPUT; it printed to the screen" in f
               for f in feedback(result)), result.render_text()


@pytest.mark.parametrize("name, said", [("bad_json", "the answer file is not valid JSON"),
                                        ("a_list", "the answer must be a JSON object")])
def test_a_broken_answer_is_graded_as_such(tmp_path: Path, name: str, said: str) -> None:
    result = graded(tmp_path, name)
    assert result.score == 0 and not result.solution.crashed
    assert all(f.startswith(said) for f in feedback(result)), result.render_text()


def test_memory_is_bounded(tmp_path: Path) -> None:
    result = graded(tmp_path, "memory_hog")
    assert result.score == 0 and result.solution.error_line == "MemoryError"
    assert "MemoryError" in feedback(result)[0]


def test_a_program_that_never_ends_is_stopped_at_the_lab_bound(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The lab's own bound is 20 s; 3 s proves the same and keeps the test short.
    short = dataclasses.replace(LAB, window_seconds=3.0)
    # The module, not the function of the same name that labs.engine exports.
    monkeypatch.setattr(importlib.import_module("labs.engine.grade"), "get_lab", lambda lab_id: short)
    started = time.monotonic()
    result = graded(tmp_path, "forever")
    assert time.monotonic() - started < 3.0 + 5.0
    assert result.score == 0 and not result.solution.ended_early and result.solution.returncode == -9
    assert all("your program did not finish within 3 s and was stopped" in f for f in feedback(result))
    assert len(result.solution.stdout_tail) == 20  # bounded, however much it printed


def test_the_seed_is_stable_across_processes() -> None:
    code = "from labs.engine import seed_for; print(seed_for('05-air-quality-index', 'alice'))"
    seeds = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONHASHSEED": str(n)}).stdout.strip() for n in (1, 2)}
    assert seeds == {str(seed_for("05-air-quality-index", "alice"))}
    assert seed_for("05-air-quality-index", "bob") != seed_for("05-air-quality-index", "alice")
    assert seed_for("08-data-quality", "alice") != seed_for("05-air-quality-index", "alice")


def analysis_lab(root: Path, toml_extra: str = "", dataset: bool = True) -> Path:
    folder = root / "09-fake-analysis"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("# fake\n")
    (folder / "checks.py").write_text("")
    (folder / "lab.toml").write_text(
        'id = "09-fake-analysis"\ntitle = "Fake"\nlevel = "beginner"\nduration_minutes = 10\n'
        'targets = ["sim"]\ncompetences = ["x"]\nwindow_seconds = 5\n' + toml_extra)
    if dataset:
        (folder / "dataset.py").write_text("def make(rng, site):\n    return [], None\n")
    return folder


def test_an_analysis_lab_needs_no_device_but_its_dataset(tmp_path: Path) -> None:
    lab = load_lab(analysis_lab(tmp_path / "a", 'kind = "analysis"\n'))
    assert lab.kind == "analysis" and lab.solution.name == "analysis.py" and lab.device == "analysis"
    with pytest.raises(LabError, match=r"dataset\.py: missing"):
        load_lab(analysis_lab(tmp_path / "b", 'kind = "analysis"\n', dataset=False))
    with pytest.raises(LabError, match=r"field 'kind' is 'quiz'"):
        load_lab(analysis_lab(tmp_path / "c", 'kind = "quiz"\n'))
    # Without a kind a lab is a device lab, which needs its device.
    with pytest.raises(LabError, match=r"field 'device' is missing"):
        load_lab(analysis_lab(tmp_path / "d"))

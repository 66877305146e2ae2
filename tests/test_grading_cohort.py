"""``citylab grade LAB --cohort FOLDER``: one file per site, graded a few at a time on one broker.

Lab 01 (a device lab, 8 s window) keeps the file short: four sites graded three at a time on the
cohort's one embedded broker, then on a given Mosquitto; each grade in the gradebook, who asked
("cli") and which code (its SHA-256) with it. The cohort's speed on a sim lab is measured by
bench/grade_cohort.py, not here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citylab.mqtt import BrokerAddress
from labs import Gradebook, get_lab
from labs.engine.cohort import default_jobs, grade_cohort, submissions

ROOT = Path(__file__).resolve().parents[1]
LAB = get_lab("01-mqtt-telemetry")


def cohort_folder(root: Path) -> Path:
    folder = root / "submissions"
    folder.mkdir()
    shutil.copy(LAB.solution, folder / "alice.py")
    shutil.copy(LAB.solution, folder / "bob.py")
    shutil.copy(LAB.folder / "wrong" / "wrong_unit.py", folder / "carol.py")
    (folder / "dave.py").write_text("raise RuntimeError('no sensor')\n")
    (folder / "Not A Site.py").write_text("print('hi')\n")
    (folder / "notes.txt").write_text("not a submission\n")
    return folder


def test_the_cli_grades_a_cohort_and_records_each_grade(tmp_path: Path) -> None:
    folder = cohort_folder(tmp_path)
    env = {**os.environ, "CITYLAB_DATA": str(tmp_path / "data")}
    env.pop("CITYLAB_BROKER", None)
    done = subprocess.run([sys.executable, "-m", "citylab.cli", "grade", "01", "--cohort", str(folder),
                           "--jobs", "3"], env=env, cwd=ROOT, text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "grading 4 submissions of 01-mqtt-telemetry, 3 at a time" in done.stderr
    assert "graded 4/4 " in done.stderr and "skipped Not A Site.py: the file name must be a site" in done.stderr
    table = {line.split()[0]: line for line in done.stdout.splitlines()[1:-1]}
    assert "10/10" in table["alice"] and "10/10" in table["bob"], done.stdout
    assert "8/10" in table["carol"] and "units" in table["carol"]
    assert "0/10" in table["dave"]
    assert "not graded" in table["Not"]
    assert done.stdout.splitlines()[-1] == "4 of 5 graded, 2 with full marks"
    entries = Gradebook(tmp_path / "data" / "gradebook.sqlite").entries()
    assert sorted(e.result.site for e in entries) == ["alice", "bob", "carol", "dave"]
    assert {e.requested_by for e in entries} == {"cli"}
    by_site = {e.result.site: e for e in entries}
    assert by_site["carol"].code_sha256 == hashlib.sha256((folder / "carol.py").read_bytes()).hexdigest()
    assert by_site["carol"].result.solution.sha256 == by_site["carol"].code_sha256


def test_a_cohort_on_a_given_mosquitto(tmp_path: Path, mosquitto: BrokerAddress) -> None:
    folder = cohort_folder(tmp_path)
    lines: list[str] = []
    entries = grade_cohort(LAB.id, folder, broker=mosquitto, jobs=4, progress=lines.append)
    scores = {e.site: e.result.score for e in entries if e.result}
    assert scores == {"alice": 10, "bob": 10, "carol": 8, "dave": 0}
    assert any(line.startswith("grading 4 submissions") and line.endswith(f"on {mosquitto.url}") for line in lines)
    assert sum(1 for line in lines if line.startswith("graded ")) == 4


def test_submissions_and_defaults(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist"):
        submissions(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exception, match="holds no .py file"):
        submissions(tmp_path / "empty")
    assert default_jobs(get_lab("03"), cores=2) == 4 and default_jobs(LAB, cores=2) == 8
    assert default_jobs(LAB, cores=64) == 16


def test_the_cli_says_what_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "CITYLAB_DATA": str(tmp_path)}
    env.pop("CITYLAB_BROKER", None)
    for args, message in ((["grade", "01"], "give your site with --site"),
                          (["grade", "01", "--site", "alice", "--target", "kit"], "needs --broker"),
                          (["grade", "03", "--site", "alice", "--target", "kit", "--solution", str(LAB.solution)],
                           "runs on sim, not on 'kit'")):
        done = subprocess.run([sys.executable, "-m", "citylab.cli", *args], env=env, cwd=ROOT, text=True,
                              capture_output=True, timeout=60)
        assert done.returncode == 1 and done.stderr.startswith("citylab: error: ") and message in done.stderr, \
            done.stderr

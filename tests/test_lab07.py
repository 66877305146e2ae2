"""Lab 07 (time series in InfluxDB), proven both ways against a real InfluxDB 1.x.

The reference solution scores full marks; each known-wrong solution loses
exactly the points of its mistake, with feedback that shows the evidence.
The grader starts Debian's influxd for each grading by itself; given a
server (``influx=``, ``citylab grade --influx``) it uses a database and a
user of the grading's own there and drops both. Without either, grading
stops with one sentence that says what to install.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from citylab.broker import free_port
from citylab.errors import LabError
from citylab.stores.influx_server import find_influxd
from influx_fixtures import INFLUX_PASSWORD, INFLUX_USER, InfluxV1, find_binary, influx_v1  # noqa: F401 (fixture)
from labs import GradeResult, get_lab, grade
from labs.engine.analysis import make_dataset

LAB = get_lab("07-time-series")
WRONG = LAB.folder / "wrong"
ALL_CHECKS = ["test_every_reading_is_a_point_with_its_tags", "test_each_point_has_its_readings_own_time",
              "test_hourly_mean_temperature", "test_downsampled_into_weather_15m",
              "test_busiest_hour_of_each_counter"]
NO_INFLUX = ("lab 07 needs InfluxDB 1.x: install it (sudo apt install influxdb) "
             "or give --influx http://host:8086")


@pytest.fixture(scope="module")
def gradings() -> dict[str, GradeResult]:
    find_binary("influxd", "influxdb")  # a clear failure, not a LabError in every test, when it is missing
    jobs = {"reference": LAB.solution, "reference-bob": LAB.solution, "starter": LAB.starter,
            **{path.stem: path for path in LAB.wrong_solutions()}}
    return {name: grade(LAB.id, "bob" if name.endswith("-bob") else "alice", path) for name, path in jobs.items()}


def failed(result: GradeResult) -> dict[str, str]:
    return {c.name: c.feedback for c in result.checks if not c.passed}


def test_the_lab_needs_influxdb_and_is_in_the_catalogue() -> None:
    assert LAB.kind == "analysis" and LAB.needs == ("influxdb",) and LAB.targets == ("sim",)
    assert LAB.solution.is_file() and LAB.starter.is_file() and len(LAB.wrong_solutions()) == 4
    for words in ("line protocol", "precision=s", "GROUP BY time(1h)", "INTO", "sudo apt install influxdb"):
        assert words in LAB.instructions


@pytest.mark.parametrize("name", ["reference", "reference-bob"])
def test_reference_solution_scores_full_marks(gradings: dict[str, GradeResult], name: str) -> None:
    result = gradings[name]
    assert failed(result) == {}, result.render_text()
    assert (result.score, result.max_score) == (10, 10)
    assert [c.name for c in result.checks] == ALL_CHECKS
    assert result.solution.returncode == 0 and result.duration_s < 10


def test_busiest_by_mean_loses_exactly_the_busiest_hour(gradings: dict[str, GradeResult]) -> None:
    result = gradings["busiest_by_mean"]
    assert set(failed(result)) == {"test_busiest_hour_of_each_counter"}, result.render_text()
    assert result.score == 8
    feedback = failed(result)["test_busiest_hour_of_each_counter"]
    truth = make_dataset(LAB, "alice").truth
    device = sorted(truth["busiest_hour"])[0]
    trap, busiest = truth["trap_hour"][device], truth["busiest_hour"][device]
    assert f"{device}: you gave {trap['time'][:10]} {trap['time'][11:16]} UTC" in feedback
    assert f"with {busiest['vehicles']} vehicles" in feedback
    assert "highest mean per reading" in feedback and "Rank the hours by sum(), not mean()" in feedback


def test_downsample_without_tags_loses_exactly_the_downsampling(gradings: dict[str, GradeResult]) -> None:
    result = gradings["downsample_drops_tags"]
    assert set(failed(result)) == {"test_downsampled_into_weather_15m"}, result.render_text()
    assert result.score == 8
    feedback = failed(result)["test_downsampled_into_weather_15m"]
    assert "no device tag: the 15-minute means mix every station together" in feedback
    assert "GROUP BY time(15m), *" in feedback


def test_local_hours_lose_exactly_the_hourly_means(gradings: dict[str, GradeResult]) -> None:
    result = gradings["local_hours"]
    assert set(failed(result)) == {"test_hourly_mean_temperature"}, result.render_text()
    assert result.score == 8
    feedback = failed(result)["test_hourly_mean_temperature"]
    assert "hourly means are wrong or missing" in feedback and "give the hours in UTC" in feedback


def test_seconds_as_nanoseconds_land_in_1970_and_every_query_says_why(gradings: dict[str, GradeResult]) -> None:
    result = gradings["seconds_as_nanoseconds"]
    assert set(failed(result)) == set(ALL_CHECKS[1:]), result.render_text()
    assert result.score == 2  # the points and their tags are all there, at the wrong time
    feedback = failed(result)
    first = feedback["test_each_point_has_its_readings_own_time"]
    assert "first point is stored at 1970-01-01T00:00:01." in first
    assert "read your times in seconds as nanoseconds: write with /write?precision=s" in first
    for name in ALL_CHECKS[2:]:
        assert "your points are not at their readings' times: see the check on timestamps" in feedback[name]


def test_starter_scores_zero_and_says_what_is_missing(gradings: dict[str, GradeResult]) -> None:
    result = gradings["starter"]
    assert result.score == 0 and result.solution.returncode == 0, result.render_text()
    assert "there is no measurement 'weather' in your database" in \
        failed(result)["test_every_reading_is_a_point_with_its_tags"]
    assert "env-01 at 2025-10-06 00:00 UTC: there is no mean for that hour" in \
        failed(result)["test_hourly_mean_temperature"]


def test_two_gradings_of_the_same_submission_agree(gradings: dict[str, GradeResult]) -> None:
    again = grade(LAB.id, "alice", WRONG / "busiest_by_mean.py")
    assert [(c.name, c.points, c.feedback) for c in again.checks] == \
        [(c.name, c.points, c.feedback) for c in gradings["busiest_by_mean"].checks]


def test_each_site_has_its_own_dataset_with_a_trap_hour() -> None:
    alice, again, bob = make_dataset(LAB, "alice"), make_dataset(LAB, "alice"), make_dataset(LAB, "bob")
    assert alice.rows == again.rows and alice.truth == again.truth
    assert [r["time"] for r in alice.rows[:50]] != [r["time"] for r in bob.rows[:50]]
    for site in ("alice", "bob", "carol", "t-1", "t-2"):
        truth = make_dataset(LAB, site).truth
        for device, busiest in truth["busiest_hour"].items():
            trap = truth["trap_hour"][device]  # the hour of the highest mean per reading
            assert trap["time"] != busiest["time"] and trap["vehicles"] < busiest["vehicles"]


def test_on_a_given_server_the_grading_has_its_own_database_and_user(influx_v1: InfluxV1,
                                                                     tmp_path: Path) -> None:
    # A program that reports what it was given and what its login may do, then does the lab.
    # It prints its report: the sandbox lets it write nowhere but its own folder.
    program = tmp_path / "probe.py"
    program.write_text(textwrap.dedent("""
        import os, urllib.error, urllib.parse, urllib.request
        env = {k: os.environ.get(k, "") for k in ("CITYLAB_INFLUX_URL", "CITYLAB_INFLUX_DB", "CITYLAB_INFLUX_USER",
                                                 "CITYLAB_INFLUX_PASSWORD")}
        query = urllib.parse.urlencode({"q": "CREATE DATABASE stolen", "u": env["CITYLAB_INFLUX_USER"],
                                        "p": env["CITYLAB_INFLUX_PASSWORD"]})
        try:
            urllib.request.urlopen(env["CITYLAB_INFLUX_URL"] + "/query?" + query, data=b"").read()
            admin = "admin"
        except urllib.error.HTTPError as exc:
            admin = str(exc.code)
        print("REPORT", repr((env, admin)), flush=True)
    """) + LAB.solution.read_text())  # the sandbox shows the program its own file only: one file
    result = grade(LAB.id, "alice", program, influx=influx_v1.admin_url())
    assert result.score == 10, result.render_text()
    report = next(line for line in result.solution.stdout_tail if line.startswith("REPORT "))
    env, admin = ast.literal_eval(report.removeprefix("REPORT "))
    assert env["CITYLAB_INFLUX_URL"] == influx_v1.url  # no admin password in it
    assert env["CITYLAB_INFLUX_DB"].startswith("grade_07_") and env["CITYLAB_INFLUX_USER"] not in ("", INFLUX_USER)
    assert env["CITYLAB_INFLUX_PASSWORD"] and env["CITYLAB_INFLUX_PASSWORD"] != INFLUX_PASSWORD
    assert admin == "403"  # the grading's user may use its database, not the server
    # Afterwards the server is as it was: the database and the user are dropped.
    databases = [row[0] for s in influx_v1.query("SHOW DATABASES", db=None) for row in s["values"]]
    users = [row[0] for s in influx_v1.query("SHOW USERS", db=None) for row in s["values"]]
    assert not [d for d in databases if d.startswith("grade_07_")] and "stolen" not in databases
    assert users == [INFLUX_USER]


def test_a_server_that_does_not_answer_is_a_sentence(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(LabError, match=rf"^lab 07 needs InfluxDB 1.x: cannot reach InfluxDB at "
                                       rf"http://127.0.0.1:{port} .*is it running"):
        grade(LAB.id, "alice", LAB.solution, influx=f"http://127.0.0.1:{port}")


def test_without_influxdb_grading_says_what_to_install(tmp_path: Path) -> None:
    assert find_influxd(), "influxd must be installed for this test to prove anything"
    citylab = Path(sys.executable).parent / "citylab"
    # No influxd on the PATH (the solution runs with the grader's own Python, by its full path) and no URL.
    env = {k: v for k, v in os.environ.items() if k != "CITYLAB_INFLUX_URL"} | {"PATH": str(tmp_path)}
    done = subprocess.run([str(citylab), "grade", "07", "--site", "alice", "--solution", str(LAB.solution),
                           "--data", str(tmp_path / "data")], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"citylab: error: {NO_INFLUX}"

"""The dashboard's newer API: the city map, chart series, statuses, labs, grading runs, the gradebook.

Grading runs use a stand-in grader here (a real grading takes ~12 s and is
exercised once, from the page, in tests/browser/); the gradebook is a real
``labs.Gradebook`` file filled with real ``GradeResult`` objects.
"""

from __future__ import annotations

import csv
import io
import time
import types
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from citylab.errors import ConfigError, LabError
from citylab.stores import SQLiteStore
from dashboard import create_app
from dashboard.citymap import load_map, try_load_map
from dashboard.series import bucket
from labs import CheckResult, Gradebook, GradeResult, SolutionInfo
from test_dashboard import T0, record, telemetry

LAB = "01-mqtt-telemetry"


def city(*devices: tuple[str, str, str, float, float], **extra: Any) -> types.SimpleNamespace:
    """A city as the simulator's City looks to the map: name, place and device specs."""
    return types.SimpleNamespace(
        name="Testville", latitude=40.0, longitude=22.0, description="", source="test",
        devices=[types.SimpleNamespace(id=i, type=t, district=d, x=x, y=y) for i, t, d, x, y in devices], **extra)


def result(site: str, score: int, max_score: int = 10, lab: str = LAB, failed: str = "units") -> GradeResult:
    checks = (CheckResult("connects", "It connects", min(score, 5), 5, score >= 5),
              CheckResult(failed, "Units are SenML", max(score - 5, 0), max_score - 5, score == max_score,
                          "" if score == max_score else "use 'Cel' for temperature"))
    return GradeResult(lab_id=lab, site=site, target="sim", score=score, max_score=max_score, checks=checks,
                       started=datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc), duration_s=11.5,
                       solution=SolutionInfo("device.py", None, 8.0, False, ("Traceback", "NameError: x"), ()))


class FakeGrader:
    """Stands in for labs.grade: says two progress lines, waits until released, returns a grade."""

    def __init__(self, score: int = 10) -> None:
        self.score = score
        self.calls: list[tuple[str, str, Path, str]] = []
        self.release = __import__("threading").Event()

    def __call__(self, lab_id: str, site: str, path: Path, broker: Any = None, target: str = "sim",
                 progress: Any = None, on_check: Any = None) -> GradeResult:
        self.calls.append((lab_id, site, path, Path(path).read_text()))
        progress("started an embedded MQTT broker")
        progress("running device.py for 8 s")
        graded = result(site, self.score)
        on_check(graded.checks[0])  # the first check is decided before the grader is released
        self.release.wait(5)
        if site == "crash":
            raise LabError("the solution file could not be run")
        return graded


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "run.db")
    for i in range(120):
        telemetry(store, "demo", "aq-01", {"pm2_5": (float(i), "ug/m3"), "label": ("ok", "/")}, T0 + i * 30)
    record(store, "citylab/demo/aq-01/status", b"online", T0)
    record(store, "citylab/demo/aq-01/status", b"offline", T0 + 100)
    return store


@pytest.fixture
def grader() -> FakeGrader:
    return FakeGrader()


@pytest.fixture
def client(store: SQLiteStore, tmp_path: Path, grader: FakeGrader) -> Iterator[TestClient]:
    app = create_app(store, city=city(("aq-01", "air_quality", "centre", 0, 0), ("aq-02", "air_quality", "centre", 100, 0),
                                      ("aq-03", "air_quality", "centre", 50, 80), ("lamp-1", "streetlight", "port", -400, -300)),
                     site="demo", gradebook_path=tmp_path / "gradebook.sqlite", grader=grader)
    with TestClient(app) as client:
        yield client
    grader.release.set()


# --- the city map ---------------------------------------------------------------------


def test_city_gives_positions_districts_and_site(client: TestClient) -> None:
    body = client.get("/api/city").json()
    assert body["name"] == "Testville" and body["site"] == "demo"
    assert body["devices"]["id"] == ["aq-01", "aq-02", "aq-03", "lamp-1"]
    assert body["devices"]["x"] == [0.0, 100.0, 50.0, -400.0] and body["devices"]["y"][3] == -300.0
    assert body["bounds"] == {"min_x": -400.0, "max_x": 100.0, "min_y": -300.0, "max_y": 80.0}
    centre = next(d for d in body["districts"] if d["name"] == "centre")
    assert centre["devices"] == 3 and len(centre["outline"]) == 3
    assert body["types"] == ["air_quality", "streetlight"] and body["events"] == []


def test_city_positions_from_latitude_and_longitude_are_metres_from_the_centre() -> None:
    spec = types.SimpleNamespace(id="a", type="weather", district="x", latitude=40.0 + 0.001, longitude=22.0)
    found = load_map(types.SimpleNamespace(name="c", latitude=40.0, longitude=22.0, devices=[spec]))
    assert found.devices[0].x == pytest.approx(0.0, abs=1e-6)
    assert found.devices[0].y == pytest.approx(111.32, abs=0.01)


def test_city_scenario_events_are_passed_on_whatever_their_shape() -> None:
    event = types.SimpleNamespace(__dataclass_fields__={"name": None, "at": None}, name="rain", at=3600)
    found = load_map(city(("a", "weather", "x", 0, 0), events=[event, {"name": "outage", "device": "a"}]))
    assert found.to_dict()["events"] == [{"name": "rain", "at": 3600}, {"name": "outage", "device": "a"}]


def test_city_lists_events_injected_while_it_runs(client: TestClient, store: SQLiteStore) -> None:
    from citylab.stores import Batch

    batch = Batch()
    batch.commands.append(("demo", "sim", {"type": "power_cut", "district": "port", "duration": 600}, T0))
    batch.commands.append(("demo", "sim", {"set": {"dim": 40}}, T0 + 1))  # not an event: ignored
    batch.commands.append(("alice", "sim", {"type": "rush_hour"}, T0 + 2))  # another site's city
    store.write(batch)
    body = client.get("/api/city").json()
    assert body["injected"] == [{"type": "power_cut", "district": "port", "duration": 600, "injected": T0}]
    assert body["epoch"] is None


def test_a_city_that_cannot_be_read_is_a_sentence_and_the_rest_still_works(store: SQLiteStore, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("name = ")
    assert try_load_map(broken)[0] is None
    with TestClient(create_app(store, city=broken, gradebook_path=tmp_path / "g.sqlite")) as client:
        response = client.get("/api/city")
        assert response.status_code == 404 and "cannot be drawn" in response.json()["detail"]
        assert client.get("/api/devices").status_code == 200
    with TestClient(create_app(store, city=None, gradebook_path=tmp_path / "g.sqlite")) as client:
        assert "without a city" in client.get("/api/city").json()["detail"]


def test_the_bundled_default_city_is_drawn() -> None:
    # The one test that reads a real city file through the simulator.
    found, problem = try_load_map("default")
    assert problem == "" and found is not None
    assert len(found.devices) >= 5 and "centre" in {d.district for d in found.devices}
    assert all(abs(d.x) < 20_000 and abs(d.y) < 20_000 for d in found.devices)


# --- charts and statuses ------------------------------------------------------------------


def test_series_covers_the_range_before_the_newest_reading(client: TestClient) -> None:
    body = client.get("/api/devices/demo/aq-01/series", params={"name": "pm2_5", "seconds": 300}).json()
    assert body["unit"] == "ug/m3" and body["end"] == T0 + 119 * 30 and body["start"] == body["end"] - 300
    assert [p["mean"] for p in body["points"]] == [float(v) for v in range(109, 120)]


def test_series_buckets_keep_mean_and_extremes(client: TestClient) -> None:
    body = client.get("/api/devices/demo/aq-01/series", params={"name": "pm2_5", "seconds": 3600, "points": 10}).json()
    assert len(body["points"]) == 10
    first = body["points"][0]
    assert first["min"] <= first["mean"] <= first["max"] and first["n"] >= 10
    assert body["points"][-1]["max"] == 119.0
    assert bucket([{"time": 1.0, "value": True}, {"time": 2.0, "value": 3}], 0, 10, 5) == [
        {"time": 2.0, "mean": 3.0, "min": 3.0, "max": 3.0, "n": 1}]


@pytest.mark.parametrize(("params", "status", "words"), [
    ({"name": "nope"}, 404, "no telemetry quantity 'nope'"),
    ({"name": "pm2_5", "seconds": 0}, 422, "'seconds'"),
    ({"name": "pm2_5", "seconds": "inf"}, 422, "'seconds'"),
    ({"name": "pm2_5", "points": 1}, 422, "'points'"),
    ({}, 422, "'name'"),
])
def test_series_errors_are_4xx_with_a_reason(client: TestClient, params: dict[str, Any], status: int, words: str) -> None:
    response = client.get("/api/devices/demo/aq-01/series", params=params)
    assert response.status_code == status and words in response.json()["detail"]


def test_statuses_newest_first_and_unknown_device(client: TestClient) -> None:
    assert [s["status"] for s in client.get("/api/devices/demo/aq-01/statuses").json()] == ["offline", "online"]
    response = client.get("/api/devices/demo/ghost/statuses")
    assert response.status_code == 404 and "ghost" in response.json()["detail"]
    assert client.get("/api/devices/demo/ghost/series", params={"name": "x"}).status_code == 404


# --- replay ---------------------------------------------------------------------------------


def test_replay_span_and_the_site_at_a_past_moment(client: TestClient, store: SQLiteStore) -> None:
    telemetry(store, "demo", "aq-02", {"pm2_5": (7.0, "ug/m3")}, T0 + 45)
    assert client.get("/api/replay/demo").json() == {"start": T0, "end": T0 + 119 * 30}
    rows = client.get("/api/replay/demo/at", params={"time": T0 + 50}).json()
    found = {(r["device"], r["name"]): (r["time"], r["value"]) for r in rows}
    assert found == {("aq-01", "pm2_5"): (T0 + 30, 1.0), ("aq-01", "label"): (T0 + 30, "ok"),
                     ("aq-02", "pm2_5"): (T0 + 45, 7.0)}
    # A value older than the window no longer counts.
    late = client.get("/api/replay/demo/at", params={"time": T0 + 50, "window": 10}).json()
    assert [(r["device"], r["name"]) for r in late] == [("aq-02", "pm2_5")]


@pytest.mark.parametrize(("path", "params", "status", "words"), [
    ("/api/replay/nobody", {}, 404, "nothing was recorded for site 'nobody'"),
    ("/api/replay/demo/at", {}, 422, "'time'"),
    ("/api/replay/demo/at", {"time": "nan"}, 422, "'time'"),
    ("/api/replay/demo/at", {"time": 1, "window": -5}, 422, "'window'"),
])
def test_replay_errors_are_4xx_with_a_reason(client: TestClient, path: str, params: dict[str, Any], status: int,
                                             words: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status and words in response.json()["detail"]


# --- labs and grading runs ----------------------------------------------------------------


def test_lab_catalogue_and_instructions_rendered(client: TestClient) -> None:
    labs = client.get("/api/labs").json()
    assert LAB in [lab["id"] for lab in labs]
    lab = client.get("/api/labs/01").json()
    assert lab["id"] == LAB and lab["level"] == "beginner" and "sim" in lab["targets"] and lab["has_reference"]
    assert "<h2>Goals</h2>" in lab["instructions_html"] and "<code>" in lab["instructions_html"]
    assert not lab["instructions_html"].lstrip().startswith("<h1>")  # the page shows the title itself


def test_instructions_escape_raw_html() -> None:
    from dashboard.instructions import render

    assert "<script>" not in render("hello <script>alert(1)</script>")


def test_unknown_lab_is_404(client: TestClient) -> None:
    for response in (client.get("/api/labs/99-nothing"), client.post("/api/labs/99/runs", json={"site": "a", "reference": True})):
        assert response.status_code == 404 and "no lab called" in response.json()["detail"]


def wait_for(client: TestClient, run_id: int, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = client.get(f"/api/runs/{run_id}").json()
        if body["state"] == state:
            return body
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} never reached {state}: {body}")


def test_a_run_of_an_uploaded_program_is_watched_then_graded_and_recorded(client: TestClient, grader: FakeGrader) -> None:
    response = client.post(f"/api/labs/{LAB}/runs", json={"site": "alice", "source": "print('hi')\n", "filename": "my.py"})
    assert response.status_code == 202
    run = response.json()
    assert run["state"] in ("queued", "running") and run["solution_name"] == "my.py"
    running = wait_for(client, run["id"], "running")
    deadline = time.monotonic() + 5
    while (len(running["progress"]) < 2 or not running["checks"]) and time.monotonic() < deadline:
        running = client.get(f"/api/runs/{run['id']}").json()
    assert running["progress"] == ["started an embedded MQTT broker", "running device.py for 8 s"]
    assert running["result"] is None
    # A check decided before the grading ends is already on the page.
    assert [(c["title"], c["passed"]) for c in running["checks"]] == [("It connects", True)]
    grader.release.set()
    done = wait_for(client, run["id"], "done")
    assert done["result"]["score"] == 10 and done["result"]["checks"][0]["title"] == "It connects"
    assert grader.calls[0][1] == "alice" and grader.calls[0][3] == "print('hi')\n"
    assert client.get(f"/api/gradebook/grades/{done['grade_id']}").json()["site"] == "alice"
    assert [r["id"] for r in client.get("/api/runs", params={"site": "alice"}).json()] == [run["id"]]


def test_a_run_of_the_reference_solution_grades_the_labs_own_file(client: TestClient, grader: FakeGrader) -> None:
    grader.release.set()
    run = client.post("/api/labs/01/runs", json={"site": "demo", "reference": True}).json()
    assert run["solution_name"] == "reference solution"
    wait_for(client, run["id"], "done")
    assert grader.calls[0][2].name == "device.py" and "solution" in grader.calls[0][2].parts


def test_a_grading_that_cannot_happen_ends_failed_with_the_reason(client: TestClient, grader: FakeGrader) -> None:
    grader.release.set()
    run = client.post(f"/api/labs/{LAB}/runs", json={"site": "crash", "reference": True}).json()
    failed = wait_for(client, run["id"], "failed")
    assert failed["error"] == "the solution file could not be run" and failed["grade_id"] is None


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"site": "Alice!", "reference": True}, 422, "site 'Alice!'"),
    ({"site": "alice"}, 422, "either the program's source or reference"),
    ({"site": "alice", "source": "x", "reference": True}, 422, "not both"),
    ({"site": "alice", "source": "   "}, 422, "empty"),
    ({"site": "alice", "source": "#" * 300_000}, 413, "limit"),
    ({"reference": True}, 422, "'site'"),
])
def test_bad_run_requests_are_4xx_with_a_reason(client: TestClient, body: dict[str, Any], status: int, words: str) -> None:
    response = client.post(f"/api/labs/{LAB}/runs", json=body)
    assert response.status_code == status and words in response.json()["detail"]


def test_unknown_run_is_404(client: TestClient) -> None:
    response = client.get("/api/runs/12345")
    assert response.status_code == 404 and "no grading run 12345" in response.json()["detail"]
    assert client.get("/api/runs/abc").status_code == 422


# --- the gradebook ------------------------------------------------------------------------------


@pytest.fixture
def graded(tmp_path: Path) -> Gradebook:
    book = Gradebook(tmp_path / "gradebook.sqlite")
    for site, score in [("g1-ann", 5), ("g1-ann", 10), ("g1-bob", 0), ("g2-cy", 7)]:
        book.record(result(site, score))
    book.record(result("g1-bob", 3, max_score=5, lab="02-other"))
    return book


def test_matrix_has_best_scores_and_attempts_with_filters(client: TestClient, graded: Gradebook) -> None:
    body = client.get("/api/gradebook/matrix").json()
    assert body["sites"] == ["g1-ann", "g1-bob", "g2-cy"] and body["labs"] == [LAB, "02-other"]
    ann = next(c for c in body["cells"] if c["site"] == "g1-ann")
    assert (ann["best"], ann["max_score"], ann["attempts"], ann["passed"]) == (10, 10, 2, True)
    cohort = client.get("/api/gradebook/matrix", params={"site_prefix": "g1-", "lab_id": LAB}).json()
    assert cohort["sites"] == ["g1-ann", "g1-bob"] and cohort["labs"] == [LAB]
    # '_' and '%' in a prefix are letters, not wildcards.
    assert client.get("/api/gradebook/matrix", params={"site_prefix": "g_"}).json()["sites"] == []


def test_grades_list_and_one_grade_in_detail(client: TestClient, graded: Gradebook) -> None:
    grades = client.get("/api/gradebook/grades", params={"site": "g1-ann"}).json()
    assert [g["score"] for g in grades] == [10, 5] and grades[1]["passed"] is False
    detail = client.get(f"/api/gradebook/grades/{grades[1]['id']}").json()
    assert detail["result"]["checks"][1]["feedback"] == "use 'Cel' for temperature"
    response = client.get("/api/gradebook/grades/999")
    assert response.status_code == 404 and "no grading 999" in response.json()["detail"]
    assert client.get("/api/gradebook/grades", params={"limit": 0}).status_code == 422


def test_csv_export_has_one_row_per_grading(client: TestClient, graded: Gradebook) -> None:
    response = client.get("/api/gradebook/export.csv", params={"lab_id": LAB})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["site"], r["score"], r["passed"]) for r in rows] == [
        ("g1-ann", "5", "no"), ("g1-ann", "10", "yes"), ("g1-bob", "0", "no"), ("g2-cy", "7", "no")]
    assert rows[0]["failed_checks"] == "units" and rows[1]["failed_checks"] == ""
    assert len(list(csv.DictReader(io.StringIO(client.get("/api/gradebook/export.csv").text)))) == 5


def test_an_unreadable_gradebook_is_503_and_the_rest_still_works(store: SQLiteStore, tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    with TestClient(create_app(store, city=None, gradebook_path=broken)) as client:
        for path in ("/api/gradebook/matrix", "/api/gradebook/grades", "/api/gradebook/export.csv"):
            response = client.get(path)
            assert response.status_code == 503, response.text
            assert "gradebook" in response.json()["detail"]
        assert client.get("/api/devices").status_code == 200


def test_config_error_is_what_a_missing_city_file_raises() -> None:
    with pytest.raises(ConfigError):
        load_map(Path("/nonexistent/city.toml"))


def test_openapi_documents_the_error_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    start = paths["/api/labs/{lab_id}/runs"]["post"]
    assert {"202", "404", "413", "422"} <= set(start["responses"])
    assert start["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/RunRequest")
    assert "404" in paths["/api/devices/{site}/{device}/series"]["get"]["responses"]
    problem = paths["/api/runs/{run_id}"]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert problem["$ref"].endswith("/Problem")


def test_stopping_drops_queued_gradings_with_a_reason(tmp_path: Path) -> None:
    from dashboard.runs import GradingRuns

    grader = FakeGrader()
    runs = GradingRuns(tmp_path / "g.sqlite", grader=grader)
    first = runs.start(LAB, "ann", b"print(1)\n", "a.py", None)
    second = runs.start(LAB, "bob", b"print(2)\n", "b.py", None)
    deadline = time.monotonic() + 5
    while first.state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    runs.shutdown()
    assert second.state == "failed" and "stopped before this grading started" in (second.error or "")
    grader.release.set()
    while first.state == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert first.state == "done" and [call[1] for call in grader.calls] == ["ann"]

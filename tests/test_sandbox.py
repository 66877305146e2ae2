"""A trainee's program never runs with the server's rights, and never hangs or harms the grader.

Real gradings of a real lab (05, an analysis lab: quick, no broker) with
malicious solutions written by the tests: one reads the gradebook, one is a
fork bomb, two fill the disk, one calls the dashboard's API (a real server in
classroom mode) to read or write grades, one prints without end. Each gets a
grade of zero with the reason in its feedback, and the grader, the gradebook
and the dashboard are unharmed. The sandbox's own modes are then tried one by
one on ``SolutionProcess``: bubblewrap (what this machine and CI use), a user
of its own without bubblewrap, and limits only.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from citylab.config import Settings
from citylab.stores import SQLiteStore
from labs import GradeResult, get_lab, grade
from labs.engine.gradebook import Gradebook
from labs.engine.result import SolutionInfo
from labs.engine.runner import Limits, SolutionProcess, analysis_env, best_isolation

LAB = get_lab("05-air-quality-index")
# A device lab's program keeps its network (it must reach the broker), so it is the one that could call the API.
DEVICE_LAB = get_lab("01-mqtt-telemetry")
ROOT = os.geteuid() == 0


def write(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def feedback(result: GradeResult) -> str:
    return "\n".join(c.feedback for c in result.checks if not c.passed)


def processes_running(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (a solution's file)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


@pytest.fixture
def grading_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the grader makes its temporary folders, so a test can see them gone."""
    folder = tmp_path / "grading"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def server_data(tmp_path: Path) -> Iterator[tuple[Settings, Gradebook]]:
    """A server's data dir with a gradebook holding one real grade, as ``citylab`` lays it out."""
    settings = Settings(data_dir=tmp_path / "data")
    gradebook = Gradebook(settings.gradebook)
    gradebook.record(grade(LAB.id, "bob", LAB.solution), by="cli")
    yield settings, gradebook


def gradebook_state(gradebook: Gradebook) -> list[tuple[int, str, int]]:
    return [(e.id, e.result.site, e.result.score) for e in gradebook.entries()]


def test_this_machine_runs_trainee_code_under_bubblewrap() -> None:
    assert best_isolation() == "bwrap", (
        "bubblewrap (bwrap) is missing or does not work here: install it with scripts/test-deps/sandbox.sh "
        "(apt-get install bubblewrap)")


def test_the_reference_solution_still_scores_full_marks_in_the_sandbox(grading_tmp: Path) -> None:
    result = grade(LAB.id, "alice", LAB.solution)
    assert (result.score, result.max_score) == (10, 10), result.render_text()
    assert result.solution.isolation == "bwrap" and result.solution.bound == ""
    assert list(grading_tmp.iterdir()) == []


def test_reading_the_gradebook_is_refused_and_graded_zero(tmp_path: Path, server_data) -> None:
    settings, gradebook = server_data
    before = gradebook_state(gradebook)
    thief = write(tmp_path, "thief.py", f"""
        import os, sqlite3
        path = {str(settings.gradebook)!r}
        print("beside me:", sorted(os.listdir(os.path.dirname(__file__))))
        try:
            print(os.listdir(os.path.dirname(path)))
        except OSError as exc:
            print("cannot list the data dir:", type(exc).__name__)
        try:
            db = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
            print(db.execute("SELECT site, score FROM grades").fetchall())
        except sqlite3.Error as exc:
            print("sqlite:", exc)
        with open(path, "rb") as f:  # raises: the grader's files are out of reach
            print(f.read(100))
    """)
    result = grade(LAB.id, "alice", thief)
    assert result.score == 0, result.render_text()
    said = feedback(result)
    assert ("PermissionError" in said or "FileNotFoundError" in said) and "gradebook.sqlite" in said, said
    out = "\n".join(result.solution.stdout_tail)
    assert "cannot list the data dir" in out and "unable to open database file" in out, out
    # The data dir is beside the program's file on this disk, but not in its world.
    assert "beside me: ['thief.py']" in out and (tmp_path / "data").is_dir()
    assert "SQLite format" not in out and "'bob'" not in out
    assert gradebook_state(gradebook) == before


def test_a_fork_bomb_is_stopped_at_once_and_graded_zero(tmp_path: Path, grading_tmp: Path) -> None:
    bomb = write(tmp_path, "bomb.py", """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """)
    # The grader's machine stays responsive: a thread of ours keeps its beat.
    gaps: list[float] = []
    done = threading.Event()

    def beat() -> None:
        last = time.monotonic()
        while not done.wait(0.05):
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beater = threading.Thread(target=beat)
    beater.start()
    try:
        started = time.monotonic()
        result = grade(LAB.id, "alice", bomb)
        took = time.monotonic() - started
    finally:
        done.set()
        beater.join()
    assert result.score == 0, result.render_text()
    assert took < LAB.window_seconds + 10
    assert result.solution.ran_s < LAB.window_seconds / 2  # stopped when it hit the bound, not at the window
    assert "more processes than allowed (64 processes or threads at once" in result.solution.bound
    assert "the grader stopped it" in feedback(result)
    assert max(gaps) < 2.0, f"the grader's own thread stalled for {max(gaps):.1f} s"
    time.sleep(0.2)
    assert processes_running(str(bomb)) == []
    assert list(grading_tmp.iterdir()) == []


@pytest.mark.parametrize("how, bound, said", [
    ("many", "it wrote more than 100 MB into its folder; the grader stopped it",
     "it wrote more than 100 MB into its folder; the grader stopped it"),
    ("one", "it tried to write a file of more than 64 MB", "OSError: [Errno 27] File too large"),
])
def test_filling_the_disk_is_stopped_at_the_bound_and_the_folder_removed(
        tmp_path: Path, grading_tmp: Path, how: str, bound: str, said: str) -> None:
    code = {
        "many": """
            import os
            block = os.urandom(1 << 20) * 4
            for i in range(10_000):
                with open(f"junk-{i}.bin", "wb") as f:
                    f.write(block)
        """,
        "one": """
            with open("big.bin", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
        """,
    }[how]
    filler = write(tmp_path, f"fill_{how}.py", code)
    result = grade(LAB.id, "alice", filler)
    assert result.score == 0, result.render_text()
    assert result.solution.bound == bound
    assert said in feedback(result)
    assert result.solution.ran_s < LAB.window_seconds / 2
    assert list(grading_tmp.iterdir()) == []  # the sandbox folder, and what it held, is gone


def test_memory_is_bounded_and_said(tmp_path: Path) -> None:
    hog = write(tmp_path, "hog.py", """
        hoard = []
        while True:
            hoard.append(bytearray(50 * 1024 * 1024))
    """)
    result = grade(LAB.id, "alice", hog)
    assert result.score == 0
    assert "MemoryError" in feedback(result)
    assert result.solution.bound == "it ran out of its 512 MB of memory"
    assert result.solution.note().endswith("MemoryError (it ran out of its 512 MB of memory)")


def test_the_instructor_api_gives_a_trainee_program_nothing(tmp_path: Path, server_data) -> None:
    from classroom.accounts import Classroom
    from dashboard import DashboardServer

    settings, gradebook = server_data
    before = gradebook_state(gradebook)
    store = SQLiteStore(settings.database)
    classroom = Classroom(settings.classroom_db)
    try:
        with DashboardServer(store, port=0, gradebook_path=settings.gradebook, classroom=classroom) as server:
            caller = write(tmp_path, "caller.py", f"""
                import json, urllib.request, urllib.error
                base = {server.url.rstrip("/")!r}

                class Stay(urllib.request.HTTPRedirectHandler):
                    def redirect_request(self, *args, **kwargs):
                        return None  # a redirect to the login page is an answer too

                opener = urllib.request.build_opener(Stay)
                tries = [
                    ("GET", "/api/gradebook/grades", None),
                    ("GET", "/api/gradebook/export.csv", None),
                    ("POST", "/api/gradebook/grades", {{"site": "alice", "lab_id": "{DEVICE_LAB.id}", "score": 10}}),
                    ("PUT", "/api/gradebook/grades/1", {{"score": 10}}),
                    ("DELETE", "/api/gradebook/grades/1", None),
                    ("POST", "/api/labs/{DEVICE_LAB.id}/runs", {{"site": "bob", "reference": True}}),
                ]
                statuses = {{}}
                for method, route, body in tries:
                    data = json.dumps(body).encode() if body is not None else None
                    request = urllib.request.Request(base + route, data=data, method=method,
                                                     headers={{"Content-Type": "application/json"}})
                    try:
                        with opener.open(request, timeout=5) as answer:
                            statuses[method + " " + route] = answer.status
                    except urllib.error.HTTPError as exc:
                        statuses[method + " " + route] = exc.code
                print(json.dumps(statuses))
                raise PermissionError("the dashboard refused: " + " ".join(map(str, statuses.values())))
            """)
            result = grade(DEVICE_LAB.id, "alice", caller)
            statuses = json.loads(result.solution.stdout_tail[-1])
            login_page = httpx.get(server.url.rstrip("/") + "/login", timeout=5)
    finally:
        classroom.close()
    assert result.score == 0, result.render_text()
    assert "PermissionError: the dashboard refused" in feedback(result)
    assert statuses["GET /api/gradebook/grades"] == 401 and statuses["GET /api/gradebook/export.csv"] == 401
    # Nothing writes a grade but the grader: the writes are refused or do not exist.
    assert all(code in (401, 403, 404, 405) for code in statuses.values()), statuses
    assert login_page.status_code == 200  # the dashboard still answers
    assert gradebook_state(gradebook) == before


def test_an_analysis_program_has_no_network(tmp_path: Path) -> None:
    """Lab 05 needs no server: its program cannot reach anything, not even a port open on this machine."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # reachable from the grader
        caller = write(tmp_path, "caller.py", f"""
            import socket
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
        """)
        result = grade(LAB.id, "alice", caller)
    assert result.score == 0
    assert result.solution.isolation == "bwrap"
    assert "ConnectionRefusedError" in feedback(result), feedback(result)


# --- the sandbox's modes, one by one, on SolutionProcess -----------------------------------


def run(solution: Path, isolation: str | None = None, seconds: float = 10.0,
        limits: Limits | None = None) -> SolutionInfo:
    """Run ``solution`` as the grader does: in a folder of a fresh temporary folder (pytest's are
    under a 0700 folder that a sandbox user could not walk through)."""
    with tempfile.TemporaryDirectory(prefix="citylab-sandbox-test-") as tmp:
        workdir = Path(tmp) / "solution"
        workdir.mkdir()
        env = analysis_env("alice", workdir / "input.csv", workdir / "answer.json", workdir)
        process = SolutionProcess(solution, env, workdir, isolation=isolation, limits=limits).start()
        try:
            process.wait(seconds)
        finally:
            process.kill()
        return process.info()


ESCAPE = """
    import os, sys, time
    # A daemon: a grandchild in a session of its own, outside the process group.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
    time.sleep(60 if sys.argv[0].endswith("waits.py") else 0)
"""


@pytest.mark.parametrize("isolation", ["bwrap", "uid"])
@pytest.mark.parametrize("name", ["waits.py", "leaves.py"])
def test_a_daemon_that_left_the_process_group_dies_with_the_program(
        tmp_path: Path, isolation: str, name: str) -> None:
    assert ROOT or isolation == "bwrap", "the uid mode needs the tests to run as root, as CI does"
    daemon = write(tmp_path, name, ESCAPE)
    info = run(daemon, isolation, seconds=1.0)
    assert info.isolation == isolation and info.ended_early == (name == "leaves.py")
    time.sleep(0.2)
    assert processes_running(str(daemon)) == []


def test_a_user_of_its_own_cannot_read_private_files_and_its_bomb_is_contained(tmp_path: Path) -> None:
    assert ROOT, "the uid mode needs the tests to run as root, as CI does"
    # The interpreter here lives under /root, which the sandbox user cannot read: these
    # programs use only what the bootstrap has loaded (os, sys, json).
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "gradebook.sqlite").write_text("secret")
    thief = write(tmp_path, "thief.py", f"""
        import os
        print("uid", os.getuid())
        open({str(private / 'gradebook.sqlite')!r}).read()
    """)
    info = run(thief, "uid")
    assert info.isolation == "uid" and info.crashed
    assert info.stdout_tail[0] != "uid 0"
    assert info.error_line.startswith("PermissionError: [Errno 13] Permission denied"), info.stderr_tail

    bomb = write(tmp_path, "bomb.py", """
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """)
    info = run(bomb, "uid")
    assert "more processes than allowed" in info.bound and info.crashed
    time.sleep(0.2)
    assert processes_running(str(bomb)) == []


@pytest.mark.parametrize("isolation", ["bwrap", "rlimits"])
def test_endless_output_is_bounded(tmp_path: Path, isolation: str) -> None:
    shouter = write(tmp_path, "shout.py", """
        import sys
        line = "x" * 5000
        while True:
            print(line)
            print(line, file=sys.stderr)
    """)
    info = run(shouter, isolation, seconds=1.5)
    assert not info.ended_early and info.returncode == -9
    assert len(info.stdout_tail) <= 20 and len(info.stderr_tail) <= 20
    assert all(len(line) <= 300 for line in info.stdout_tail + info.stderr_tail)
    assert info.note() == ""


def test_the_bounds_and_isolation_are_kept_in_the_gradebook(tmp_path: Path) -> None:
    info = SolutionInfo(path="bomb.py", returncode=-9, ran_s=0.4, ended_early=True,
                        bound="it started more processes than allowed", isolation="bwrap")
    assert info.crashed and info.error_line == "it started more processes than allowed"
    assert "crashed after 0.4 s: it started more processes than allowed" in info.note()
    result = grade(LAB.id, "alice", LAB.starter)
    gradebook = Gradebook(tmp_path / "data" / "gradebook.sqlite")
    gradebook.record(result, by="cli")
    (again,) = gradebook.history("alice")
    assert again.solution.isolation == "bwrap" and again.solution == result.solution
    assert oct((tmp_path / "data").stat().st_mode & 0o777) == "0o700"  # the gradebook's folder is private

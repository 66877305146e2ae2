"""Analysis labs: a dataset of the trainee's own, their program's answer, the ground truth.

An analysis lab (``kind = "analysis"`` in its ``lab.toml``) keeps a dataset
generator in its folder, ``dataset.py``::

    FORMAT = "csv"            # or "jsonl"; csv if left out

    def make(rng: numpy.random.Generator, site: str) -> tuple[list[dict], Any]:
        ...                   # rows for the trainee, the truth for the checks

The grader seeds ``rng`` from a stable hash of (lab id, site), so each
trainee gets their own numbers (they cannot be copied) and two gradings of
the same submission see the same dataset and agree. It writes the rows to
the program's working directory, runs the program there (the bounds of
``runner.py``: its own process, a small environment, a memory cap, the lab's
``window_seconds`` as wall-time bound) with ``CITYLAB_INPUT`` and
``CITYLAB_OUTPUT``, and reads the JSON answer back. The checks get an
``AnalysisRun`` as their ``run`` fixture: the answer, the truth, the rows.
The truth never leaves the grader's process.

A lab that stores its data in a database says so in its manifest, ``needs =
["influxdb"]``: the grader gives the program a fresh, empty InfluxDB 1.x
database (``CITYLAB_INFLUX_URL``, ``CITYLAB_INFLUX_DB``, and
``CITYLAB_INFLUX_USER`` / ``CITYLAB_INFLUX_PASSWORD`` when the server wants
them) and the checks read it back with ``run.influx.query("SELECT ...")``.
The database lives on the server given as ``influx`` (``citylab grade
--influx URL`` or ``$CITYLAB_INFLUX_URL``: a database and a user of the
grading's own, dropped afterwards), or else on Debian's ``influxd`` started
by the grader on a free port in the grading's folder and stopped after the
checks (``citylab.stores.influx_server``).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from citylab.errors import LabError, StoreError
from citylab.stores.influx_server import InfluxServer, ScratchDatabase, find_influxd, scratch_database
from labs.catalogue import Lab
from labs.engine.result import CheckResult, SolutionInfo, explain_failures
from labs.engine.runner import SolutionProcess, analysis_env

# An answer is a few hundred kilobytes; a program writing gigabytes into its
# answer must not make the grader read them.
ANSWER_LIMIT_BYTES = 20 * 1024 * 1024
FORMATS = {"csv": "input.csv", "jsonl": "input.jsonl"}


def seed_for(lab_id: str, site: str) -> int:
    """The dataset's seed: stable across processes and Python versions (unlike ``hash()``)."""
    digest = hashlib.sha256(f"citylab:{lab_id}:{site}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Dataset:
    """What a lab's generator made for one site."""

    rows: list[dict[str, Any]]
    truth: Any
    format: str


def make_dataset(lab: Lab, site: str) -> Dataset:
    """Run the lab's ``dataset.py`` for ``site``; LabError if the generator is broken."""
    path = lab.dataset
    # Loaded under a private name and not kept in sys.modules, so an edited
    # generator is read afresh and two labs' dataset.py never collide.
    spec = importlib.util.spec_from_file_location(f"_citylab_dataset_{lab.number}", path)
    if spec is None or spec.loader is None:
        raise LabError(f"{path}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        rows, truth = module.make(np.random.default_rng(seed_for(lab.id, site)), site)
    except Exception as exc:
        raise LabError(f"{path}: the dataset generator failed ({type(exc).__name__}: {exc})") from exc
    fmt = getattr(module, "FORMAT", "csv")
    if fmt not in FORMATS:
        raise LabError(f"{path}: FORMAT is {fmt!r}, but it must be one of {', '.join(FORMATS)}")
    return Dataset(list(rows), truth, fmt)


def write_rows(path: Path, rows: list[dict[str, Any]], fmt: str) -> None:
    """The rows as CSV (a header, then one line per row) or JSON lines."""
    with path.open("w", encoding="utf-8", newline="") as out:
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(row) + "\n")
            return
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


@dataclass(frozen=True)
class AnalysisRun:
    """What an analysis program answered, with the truth to judge it by (the ``run`` fixture)."""

    lab_id: str
    site: str
    device: str
    solution: SolutionInfo
    rows: list[dict[str, Any]]
    truth: Any
    answer: Any  # the parsed JSON, or None when there is none
    problem: str  # why there is no usable answer; "" when there is one
    window_s: float
    influx: ScratchDatabase | None = None  # the program's database, for labs that need InfluxDB

    def require_answer(self) -> dict[str, Any]:
        """The answer object; fails the check with the reason when there is none."""
        if self.problem:
            raise AssertionError(self.problem)
        return self.answer


def _note(info: SolutionInfo, window: float) -> str:
    """How the program ended, when it ended badly; "" when it finished by itself."""
    if not info.ended_early:
        return f"your program did not finish within {window:.0f} s and was stopped"
    if info.crashed:
        what = f": {info.error_line}" if info.error_line else f" with exit code {info.returncode}"
        return f"your program crashed after {info.ran_s:.1f} s{what}"
    return ""


def _read_answer(path: Path, info: SolutionInfo, window: float) -> tuple[Any, str]:
    ended = _note(info, window)
    if not path.is_file():
        printed = [line for line in info.stdout_tail if line.strip()]
        hint = (f"; it printed to the screen instead (last line: {printed[-1][:80]!r}): write the JSON to "
                f"the file named by CITYLAB_OUTPUT") if printed and not ended else ""
        why = f"{ended}, " if ended else ""
        return None, (f"{why}no answer was written to the file named by CITYLAB_OUTPUT{hint}: "
                      f"open(os.environ['CITYLAB_OUTPUT'], 'w') and json.dump your answer into it")
    size = path.stat().st_size
    if size > ANSWER_LIMIT_BYTES:
        return None, f"the answer file is {size / 1e6:.0f} MB, more than the {ANSWER_LIMIT_BYTES / 1e6:.0f} MB allowed"
    text = path.read_bytes().decode("utf-8", "replace")
    try:
        answer = json.loads(text)
    except ValueError as exc:
        start = text.strip()[:60]
        why = f" ({ended}, perhaps before it finished writing)" if ended else ""
        return None, (f"the answer file is not valid JSON{why}: {exc} (it starts with {start!r}); "
                      f"write it with json.dump")
    if not isinstance(answer, dict):
        return None, (f"the answer must be a JSON object ({{...}}) with the keys the instructions name, "
                      f"not a {type(answer).__name__}")
    return answer, ""


def run_analysis(lab: Lab, site: str, solution: Path, workdir: Path, progress: Callable[[str], None],
                 influx: ScratchDatabase | None = None) -> tuple[AnalysisRun, str]:
    """Make the site's dataset, run ``solution`` on it and read its answer: (run, note for failed checks)."""
    dataset = make_dataset(lab, site)
    sandbox = workdir / "solution"
    sandbox.mkdir()
    input_path = sandbox / FORMATS[dataset.format]
    output_path = sandbox / "answer.json"
    write_rows(input_path, dataset.rows, dataset.format)
    window = lab.window_seconds
    progress(f"running {solution.name} on a dataset of {len(dataset.rows)} rows for site '{site}' "
             f"(at most {window:.0f} s)...")
    env = analysis_env(site, input_path, output_path, sandbox)
    if influx is not None:
        env |= {"CITYLAB_INFLUX_URL": influx.url, "CITYLAB_INFLUX_DB": influx.database}
        if influx.user:
            env |= {"CITYLAB_INFLUX_USER": influx.user, "CITYLAB_INFLUX_PASSWORD": influx.password}
    # An analysis program reads a file and writes one: it gets no network unless
    # the lab needs a server (lab 07's InfluxDB), so it cannot reach the dashboard or the broker.
    process = SolutionProcess(solution, env, sandbox, network=influx is not None)
    try:
        process.start()
        process.wait(window)
        if process.running:
            progress(f"{solution.name} did not finish within {window:.0f} s: stopping it")
    finally:
        process.kill()
    info = process.info()
    answer, problem = _read_answer(output_path, info, window)
    run = AnalysisRun(lab.id, site, lab.device, info, dataset.rows, dataset.truth, answer, problem, window, influx)
    return run, _note(info, window)


@contextmanager
def _influx(lab: Lab, url: str | None, workdir: Path, progress: Callable[[str], None],
            ) -> Iterator[ScratchDatabase | None]:
    """The grading's own InfluxDB database when the lab needs one: on ``url``, or on an influxd of ours."""
    if "influxdb" not in lab.needs:
        yield None
        return
    server: InfluxServer | None = None
    try:
        if not url:
            binary = find_influxd()
            if binary is None:
                raise LabError(f"lab {lab.number} needs InfluxDB 1.x: install it (sudo apt install influxdb) "
                               f"or give --influx http://host:8086")
            server = InfluxServer(workdir / "influxdb", binary=binary).start()
            url = server.url
            progress(f"started InfluxDB on {url}")
        with scratch_database(url, prefix=f"grade_{lab.number}") as database:
            progress(f"the program's database: {database.database} on {database.url}")
            yield database
    except StoreError as exc:
        raise LabError(f"lab {lab.number} needs InfluxDB 1.x: {exc}") from exc
    finally:
        if server is not None:
            server.stop()


def grade_analysis(lab: Lab, site: str, solution: Path, workdir: Path, progress: Callable[[str], None],
                   on_check: Callable[[CheckResult], None] | None = None, influx: str | None = None,
                   ) -> tuple[list[CheckResult], SolutionInfo]:
    """Run an analysis program (with its database, if the lab needs one) and evaluate the lab's checks."""
    from labs.engine.plugin import evaluate  # here: plugin imports this module

    with _influx(lab, influx, workdir, progress) as database:
        run, note = run_analysis(lab, site, solution, workdir, progress, database)
        progress(f"checking {lab.id}...")
        explain = explain_failures(note)
        # Inside the with: the checks read the database back before it is dropped.
        checks = [explain(c) for c in evaluate(lab, run, workdir, on_check and (lambda c: on_check(explain(c))))]
    return checks, run.solution

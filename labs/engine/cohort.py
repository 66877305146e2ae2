"""Grading a cohort: one submission file per site, graded a few at a time on one shared broker.

``citylab grade LAB --cohort FOLDER`` grades every ``FOLDER/*.py``; the
file's stem is the site (``alice.py`` is site ``alice``), so each grading
has its own topics, ``citylab/alice/#``, and gradings sharing the broker do
not see each other. The gradings run ``jobs`` at a time, each in a worker
process of its own: a grading is mostly waiting (the lab's window), but a
sim lab's simulator, recorder and checks are Python, and threads of one
process would share one GIL, which is what makes a 900x city lag. The
broker is one started here (a private Mosquitto, else the embedded one, on
which the recorders subscribe with QoS 0: amqtt under QoS 1 waits for each
PUBACK in turn), or the one given.

Fairness under concurrency: a sim lab's city runs at 900 simulated seconds
a wall second, and a controller short of CPU falls behind the city. Three
defences: the broker is a private Mosquitto when one is installed
(``private_broker.py``: amqtt could not keep four sim gradings' messages
moving on a busy machine); the default ``jobs`` for a sim lab is measured
(``default_jobs``, bench/grade_cohort.py); and a grading that lost points
while the grader's probe saw the machine starved (``lagprobe.py``) is
graded again at the end, with half the jobs.

Other-site detection (``labs/engine/guard.py``) is off here: with several
programs on one broker, a message under a stranger's site cannot be pinned
on one of them. The classroom broker's ACLs (issue 8) refuse such messages.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from citylab import contract
from citylab.broker import EmbeddedBroker, free_port
from citylab.errors import CitylabError, ContractError, LabError
from citylab.mqtt import BrokerAddress
from labs.catalogue import Lab, get_lab
from labs.engine.private_broker import PrivateMosquitto, find_mosquitto
from labs.engine.result import GradeResult

# Gradings at a time per CPU core, by lab kind. Device, serial and analysis
# gradings mostly wait on a window or a subprocess; a sim grading keeps a
# simulator, a controller and a recorder busy (bench/grade_cohort.py).
JOBS_PER_CORE = {"sim": 2, "device": 4, "serial": 4, "analysis": 1}
MAX_JOBS = 16
# Disturbed gradings (see grade_cohort) are graded again at most this many times.
REGRADE_ROUNDS = 2


@dataclass(frozen=True)
class Submission:
    site: str
    path: Path


@dataclass(frozen=True)
class CohortEntry:
    """One submission's outcome: its result, or why it could not be graded."""

    site: str
    path: Path
    result: GradeResult | None
    error: str = ""
    code: bytes | None = None  # the file as submitted for grading, for the gradebook


def default_jobs(lab: Lab, cores: int | None = None) -> int:
    cores = cores or os.cpu_count() or 1
    return max(1, min(MAX_JOBS, JOBS_PER_CORE.get(lab.kind, 1) * cores))


def submissions(folder: Path | str) -> tuple[list[Submission], list[CohortEntry]]:
    """The folder's ``*.py`` files as (gradable submissions, files refused with a reason)."""
    root = Path(folder)
    if not root.is_dir():
        raise LabError(f"the cohort folder {str(root)!r} does not exist: give a folder with one file per site, "
                       f"like submissions/alice.py")
    good, refused = [], []
    for path in sorted(root.glob("*.py")):
        try:
            contract.Topic(path.stem, "device", "status")
        except ContractError as exc:
            refused.append(CohortEntry(path.stem, path, None, f"the file name must be a site: {exc.reason}"))
            continue
        good.append(Submission(path.stem, path))
    if not good and not refused:
        raise LabError(f"the cohort folder {str(root)!r} holds no .py file: one file per site, like alice.py")
    return good, refused


def _grade_one(lab_id: str, site: str, path: str, broker_url: str, recorder_qos: int | None,
               ) -> tuple[GradeResult | None, str]:
    """In a worker process: one grading, or the sentence saying why it could not happen."""
    from labs.engine.grade import grade

    try:
        return grade(lab_id, site, path, BrokerAddress.parse(broker_url), foreign=False,
                     recorder_qos=recorder_qos), ""
    except CitylabError as exc:
        return None, str(exc)
    except Exception as exc:  # a grader bug must cost one submission, not the cohort
        return None, f"the grader failed on this submission ({type(exc).__name__}: {exc}): tell your instructor"


def _start_broker(say: Callable[[str], None]) -> tuple[BrokerAddress, Callable[[], None], int]:
    """The cohort's own broker: a private Mosquitto if installed, else the embedded one; (address, stop, qos)."""
    binary = find_mosquitto()
    if binary:
        try:
            mosquitto = PrivateMosquitto(binary).start()
            return mosquitto.address, mosquitto.stop, 1
        except OSError as exc:
            say(f"{exc}: using the embedded broker")
    embedded = EmbeddedBroker("127.0.0.1", free_port()).start()
    # amqtt waits for each PUBACK in turn under QoS 1; on localhost QoS 0 loses nothing.
    return embedded.address, embedded.stop, 0


def _run_pool(lab: Lab, todo: list[tuple[Submission, bytes]], broker: BrokerAddress, qos: int | None,
              jobs: int, report: Callable[[CohortEntry], None]) -> None:
    # spawn, not fork: this process has the broker's and paho's threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures: dict[Future[tuple[GradeResult | None, str]], tuple[Submission, bytes]] = {
            pool.submit(_grade_one, lab.id, sub.site, str(sub.path), broker.url, qos): (sub, code)
            for sub, code in todo}
        for future in as_completed(futures):
            sub, code = futures[future]
            try:
                result, error = future.result()
            except Exception as exc:  # the worker died (killed, out of memory)
                result, error = None, f"the grading process died ({type(exc).__name__}: {exc})"
            report(CohortEntry(sub.site, sub.path, result, error, code))


def _disturbed(entry: CohortEntry) -> bool:
    """Lost points while the grader was short of CPU (labs/engine/lagprobe.py): not a fair grade yet."""
    return entry.result is not None and entry.result.solution.disturbed and not entry.result.passed


def grade_cohort(lab_id: str, folder: Path | str, *, broker: BrokerAddress | None = None, jobs: int | None = None,
                 progress: Callable[[str], None] | None = None,
                 on_entry: Callable[[CohortEntry], None] | None = None) -> list[CohortEntry]:
    """Grade every submission in ``folder``; return one entry per file, in site order.

    A grading that lost points while the grader was short of CPU (a sim lab's
    probe saw its messages delayed beyond the lab's budget) is graded again
    after the others, with half the jobs, up to REGRADE_ROUNDS times; the
    grade kept is the first undisturbed one, else the best. ``on_entry`` is
    called (in this thread) once per submission, with its final entry, to record it.
    """
    say = progress or (lambda line: None)
    lab = get_lab(lab_id)
    subs, entries = submissions(folder)
    jobs = jobs or default_jobs(lab)
    for entry in entries:
        say(f"skipped {entry.path.name}: {entry.error}")
        if on_entry:
            on_entry(entry)
    stop: Callable[[], None] | None = None
    qos: int | None = None
    if broker is None:
        broker, stop, qos = _start_broker(say)
    say(f"grading {len(subs)} submissions of {lab.id}, {jobs} at a time, on {broker.url}")
    started = time.monotonic()
    final: dict[str, CohortEntry] = {}
    try:
        todo = [(sub, sub.path.read_bytes()) for sub in subs]
        for round_number in range(REGRADE_ROUNDS + 1):
            again: list[CohortEntry] = []

            def report(entry: CohortEntry) -> None:
                earlier = final.get(entry.site)
                if earlier is not None and earlier.result and entry.result and _disturbed(entry) \
                        and earlier.result.score > entry.result.score:
                    entry = earlier  # both disturbed: the better of the two
                final[entry.site] = entry
                last_round = round_number == REGRADE_ROUNDS
                what = (f"{entry.result.score}/{entry.result.max_score} in {entry.result.duration_s:.1f} s"
                        if entry.result else f"not graded: {entry.error}")
                if _disturbed(entry) and not last_round:
                    again.append(entry)
                    what += ", disturbed by a busy machine: graded again at the end"
                elif on_entry:
                    on_entry(entry)
                counter = f"graded {len(final)}/{len(subs)}" if round_number == 0 else "graded again"
                say(f"{counter} {entry.site}: {what} ({time.monotonic() - started:.0f} s so far)")

            _run_pool(lab, todo, broker, qos, jobs, report)
            if not again:
                break
            jobs = max(1, jobs // 2)
            todo = [(Submission(e.site, e.path), e.code or b"") for e in again]
            say(f"grading {len(todo)} disturbed submissions again, {jobs} at a time")
    finally:
        if stop is not None:
            stop()
    return sorted([*entries, *final.values()], key=lambda e: e.site)


def summary_table(entries: list[CohortEntry]) -> str:
    """One line per site: score, time, and the checks it failed (or why it was not graded)."""
    rows = [("site", "score", "time", "failed checks")]
    for entry in entries:
        if entry.result is None:
            rows.append((entry.site, "-", "-", f"not graded: {entry.error}"))
            continue
        result = entry.result
        failed = ", ".join(c.name.removeprefix("test_") for c in result.checks if not c.passed)
        rows.append((entry.site, f"{result.score}/{result.max_score}", f"{result.duration_s:.1f} s", failed or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)) for row in rows]
    graded = [e.result for e in entries if e.result is not None]
    full = sum(1 for r in graded if r.passed)
    lines.append(f"{len(graded)} of {len(entries)} graded, {full} with full marks")
    return "\n".join(lines)


def cohort_command(lab_id: str, folder: Path, broker: BrokerAddress | None, jobs: int | None,
                   gradebook_path: Path) -> int:
    """``citylab grade LAB --cohort FOLDER``: progress on stderr, the table on stdout, each grade recorded."""
    import sys

    from labs.engine.gradebook import Gradebook

    if jobs is not None and jobs < 1:
        raise LabError(f"--jobs must be 1 or more, not {jobs}")
    book = Gradebook(gradebook_path)

    def record(entry: CohortEntry) -> None:
        if entry.result is not None:
            book.record(entry.result, by="cli", code=entry.code)

    entries = grade_cohort(lab_id, folder, broker=broker, jobs=jobs,
                           progress=lambda line: print(line, file=sys.stderr, flush=True), on_entry=record)
    print(summary_table(entries))
    return 0

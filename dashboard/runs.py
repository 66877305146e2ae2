"""Grading runs started from the page: queued, run one at a time, watched live.

``labs.grade`` runs the trainee's program for the lab's window with its own
embedded broker, then evaluates the checks with pytest in-process. It blocks
for several seconds, so it runs in a worker thread; one worker, because
pytest in-process is not made to run twice at once in one interpreter.

A run's progress lines and its result stay in memory (the newest
``KEEP`` runs) for the page that watches it; the result also goes to the
gradebook, which is what survives a restart.

The worker is a daemon thread, not a ThreadPoolExecutor: the interpreter
joins an executor's threads at exit, so Ctrl-C on ``citylab up`` would wait
for a grading in progress instead of stopping within its few seconds.
"""

from __future__ import annotations

import itertools
import queue
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from citylab.errors import CitylabError

KEEP = 200
MAX_SOLUTION_BYTES = 256 * 1024

Grader = Callable[..., Any]


@dataclass
class GradingRun:
    """One grading as the page sees it."""

    id: int
    lab_id: str
    site: str
    solution_name: str
    state: str = "queued"  # queued | running | done | failed
    progress: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # decided so far, before the result
    result: dict[str, Any] | None = None
    error: str | None = None
    grade_id: int | None = None
    requested_by: str = "dashboard"
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "lab_id": self.lab_id, "site": self.site, "solution_name": self.solution_name,
            "state": self.state, "progress": list(self.progress), "checks": list(self.checks),
            "result": self.result, "error": self.error,
            "grade_id": self.grade_id, "created": self.created, "finished": self.finished,
            "requested_by": self.requested_by,
        }


class GradingRuns:
    """Starts gradings in a worker thread and remembers how they went."""

    def __init__(self, gradebook_path: Path | None, grader: Grader | None = None,
                 broker: Any = None) -> None:
        self.gradebook_path = gradebook_path
        self._grader = grader
        self._broker = broker
        self._runs: OrderedDict[int, GradingRun] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[GradingRun, bytes | None, Path | None] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def start(self, lab_id: str, site: str, source: bytes | None, solution_name: str,
              reference: Path | None, *, by: str = "dashboard") -> GradingRun:
        """Queue a grading of ``source`` (or of the lab's ``reference`` solution), asked for by ``by``
        (the account name; the gradebook records it)."""
        run = GradingRun(next(self._ids), lab_id, site, solution_name, requested_by=by)
        with self._lock:
            self._runs[run.id] = run
            while len(self._runs) > KEEP:
                self._runs.popitem(last=False)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="citylab-grading", daemon=True)
                self._worker.start()
        self._queue.put((run, source, reference))
        return run

    def get(self, run_id: int) -> GradingRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def all(self) -> list[GradingRun]:
        with self._lock:
            return list(reversed(self._runs.values()))

    def shutdown(self) -> None:
        """Drop queued gradings and let the worker end after the current one."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].state, item[0].error = "failed", "the dashboard stopped before this grading started"
        self._queue.put(None)
        with self._lock:
            self._worker = None

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._grade(*item)

    def _grade(self, run: GradingRun, source: bytes | None, reference: Path | None) -> None:
        run.state = "running"
        folder = Path(tempfile.mkdtemp(prefix="citylab-upload-"))
        try:
            if source is not None:
                path = folder / "device.py"
                path.write_bytes(source)
            else:
                assert reference is not None
                path = reference
            grader = self._grader or _default_grader()
            result = grader(run.lab_id, run.site, path, broker=self._broker, target="sim",
                            progress=run.progress.append,
                            on_check=lambda check: run.checks.append(asdict(check)))
            run.result = result.to_dict()
            if self.gradebook_path is not None:
                from labs import Gradebook

                run.grade_id = Gradebook(self.gradebook_path).record(result, by=run.requested_by, code=source)
            run.state = "done"
        except CitylabError as exc:
            run.error, run.state = str(exc), "failed"
        except Exception as exc:  # a bug in grading must reach the page, not die in a thread
            run.error, run.state = f"the grading stopped unexpectedly: {type(exc).__name__}: {exc}", "failed"
        finally:
            run.finished = time.time()
            shutil.rmtree(folder, ignore_errors=True)


def _default_grader() -> Grader:
    import labs

    return labs.grade

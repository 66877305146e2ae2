"""Evaluating a lab's checks: pytest, run in-process, with a plugin that collects points.

A lab's checks are pytest tests in ``labs/NN-slug/checks.py``::

    @pytest.mark.points(2)
    def test_units(run):
        \"\"\"Temperature in Cel, humidity in %RH\"\"\"
        wrong = [...]
        assert not wrong, f"{len(wrong)} of {n} packs used unit 'C' for temperature: write 'Cel'"

The ``run`` fixture is the recorded run (``labs.engine.recording.Run``), or for
an analysis lab the answer and the truth (``labs.engine.analysis.AnalysisRun``). The
assertion message (or ``pytest.fail(message)``) is the trainee's feedback, so asserts are not rewritten
(``--assert=plain``): the message comes through as written, without pytest's
introspection meant for developers. The docstring's first line is the title.

pytest is run with everything that touches process-wide state switched off
(terminal output, capture, logging, warnings, faulthandler, the breakpoint
and thread/unraisable exception hooks, plugin autoload, the repository's own
pytest configuration and conftest files), because the grader runs inside a
web server's threads or inside another pytest.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from citylab.errors import LabError
from labs.catalogue import Lab
from labs.engine.analysis import AnalysisRun
from labs.engine.recording import Run
from labs.engine.result import CheckResult, explain_failures

# pytest.main mutates process-wide state (sys.modules, sys.path, the plugin
# manager's hooks), so two gradings may record at the same time but evaluate
# one after the other. An evaluation takes well under a second.
_PYTEST_LOCK = threading.Lock()


@dataclass
class _Outcome:
    name: str
    title: str
    max_points: int
    passed: bool = True
    feedback: str = ""
    ran: bool = False


def _feedback(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The sentence for the trainee, from what a check raised."""
    exc = excinfo.value
    if isinstance(exc, AssertionError):
        text = str(exc).strip()
        if text:
            return text
        # An assert without a message: show the line, better than nothing.
        try:
            line = str(excinfo.traceback[-1].statement).strip()
        except Exception:
            line = ""
        return f"this check failed ({line})" if line else "this check failed"
    if isinstance(exc, (pytest.fail.Exception, pytest.skip.Exception)):
        return str(exc.msg).strip()  # type: ignore[attr-defined]
    # Anything else is a bug in the check, not in the trainee's work: say so.
    return (f"the grader could not run this check ({type(exc).__name__}: {exc}); "
            f"this is not your mistake: tell your instructor")


class Collector:
    """The pytest plugin: provides ``run``, registers ``points``, collects outcomes."""

    def __init__(self, run: Run | AnalysisRun, on_check: Callable[[CheckResult], None] | None = None) -> None:
        self._run = run
        self._on_check = on_check
        self.outcomes: dict[str, _Outcome] = {}
        self.problems: list[str] = []  # errors in the checks file itself

    @pytest.fixture
    def run(self) -> Run | AnalysisRun:
        """The recorded run of the trainee's solution."""
        return self._run

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): how many points the check is worth")
        # Nobody reads pytest's own report of a failed check (the feedback is the assertion's
        # message), and its default "long" style re-parses the check's source with ast.parse,
        # which CPython 3.11 does not make safe against another thread parsing at the same time
        # ("SystemError: AST constructor recursion depth mismatch", seen with gradings in threads).
        # "native" formats the traceback without parsing anything. (The option belongs to the
        # terminal plugin, which is off, so it is set here.)
        config.option.tbstyle = "native"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(str(report.longrepr))

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("points")
            points = marker.args[0] if marker and marker.args else None
            if type(points) is not int or points < 0:
                self.problems.append(f"{item.nodeid}: needs @pytest.mark.points(N) with N a whole number >= 0")
                continue
            doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
            title = doc.splitlines()[0].strip() if doc else item.name.removeprefix("test_").replace("_", " ")
            # A title may name the run's site and device: "citylab/{site}/{device}/telemetry".
            title = title.replace("{site}", self._run.site).replace("{device}", self._run.device)
            self.outcomes[item.nodeid] = _Outcome(item.name, title, points)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        outcome = self.outcomes.get(item.nodeid)
        if outcome is not None and call.excinfo is not None and outcome.passed:
            outcome.passed = False
            outcome.feedback = _feedback(call.excinfo)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self.outcomes.get(report.nodeid)
        if outcome is None:
            return
        if report.when == "call":
            outcome.ran = True
        if report.failed or report.skipped:
            outcome.passed = False
            if not outcome.feedback:
                crash = getattr(report.longrepr, "reprcrash", None)
                outcome.feedback = crash.message if crash else str(report.longrepr or "")
        # After teardown a check's verdict is final: tell whoever watches live.
        if report.when == "teardown" and self._on_check is not None:
            self._on_check(_check_result(outcome))


def _check_result(outcome: _Outcome) -> CheckResult:
    passed = outcome.passed and outcome.ran
    feedback = outcome.feedback if not passed else ""
    if not passed and not feedback:
        feedback = "this check did not run"
    return CheckResult(outcome.name, outcome.title, outcome.max_points if passed else 0,
                       outcome.max_points, passed, feedback)


def _args(lab: Lab, ini: Path) -> list[str]:
    return [
        str(lab.checks),
        "-c", str(ini), "--rootdir", str(lab.folder.parent),  # not the repository's pytest settings
        "--noconftest", "--disable-plugin-autoload", "--import-mode=importlib",
        "--assert=plain", "--capture=no",
        "-p", "no:cacheprovider", "-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings",
        "-p", "no:faulthandler", "-p", "no:stepwise", "-p", "no:debugging",
        "-p", "no:unraisableexception", "-p", "no:threadexception",
    ]


def evaluate(lab: Lab, run: Run | AnalysisRun, workdir: Path,
             on_check: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run the lab's checks against ``run``; one CheckResult per check, in file order.

    ``on_check`` is called with each check's result as soon as it is known.
    """
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    collector = Collector(run, on_check)
    with _PYTEST_LOCK:
        before = set(sys.modules)
        try:
            code = pytest.main(_args(lab, ini), plugins=[collector])
        finally:
            # Forget the imported checks so an edited checks.py is read afresh
            # and nothing one grading set on the module leaks into the next.
            for name in set(sys.modules) - before:
                if name.startswith(lab.id):
                    del sys.modules[name]
    if collector.problems:
        raise LabError(f"the checks of lab {lab.id} are broken ({lab.checks}): {collector.problems[0]}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not collector.outcomes:
        raise LabError(f"the checks of lab {lab.id} could not run ({lab.checks}): pytest exit code {int(code)}")
    results = [_check_result(outcome) for outcome in collector.outcomes.values()]
    return results


def check_run(lab: Lab, run: Run, workdir: Path,
              on_check: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """The lab's checks on a recorded run, each failure explained by the program's fate, then the
    grader's own 0-point findings (a flood, another site's topics)."""
    explain = explain_failures(run.solution.note())
    checks = [explain(c) for c in evaluate(lab, run, workdir, on_check and (lambda check: on_check(explain(check))))]
    for finding in run.findings:
        if on_check is not None:
            on_check(finding)
        checks.append(finding)
    return checks
